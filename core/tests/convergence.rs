//! Property tests: replicas make random edits, perform login merges of growing guest carts (the same state on
//! several replicas, older states as a server would merge them), sync in random partial orders, reload from their
//! incremental saves, then sync fully. All views must be byte-identical and obey the rules, checked against the
//! reference model of README's rules in `model/mod.rs`.

mod common;
mod model;
use cart_core::{Cart, CartView, MergePolicy, Op, MAX_QTY};
use common::{json, replica, sync};
use model::{History, Intent};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

const SKUS: [&str; 4] = ["A", "B", "C", "D"];
const REPLICAS: usize = 4;
const GUESTS: usize = 2;

#[derive(Debug, Clone)]
enum Step {
    Add(usize, usize, u32),
    Set(usize, usize, u32),
    /// A set by a writer of the layout before 2026-12-01 (it deletes the adds it saw), of a line the replica shows:
    /// the same intent as a set.
    OldSet(usize, usize, u32),
    Remove(usize, usize),
    Select(usize, usize, bool),
    Clear(usize),
    /// Several of the edits above as one batch (`Cart::apply`): one change, all or nothing.
    Batch(usize, Vec<Op>),
    Sync(usize, usize),
    Reload(usize),
    /// A guest cart is edited (another tab, still signed out): it grows, or a line is set.
    GuestAdd(usize, usize, u32),
    GuestSet(usize, usize, u32),
    /// The replica merges a state of a guest cart: its latest (`back` = 0) or an older one, as a server holding
    /// a stale copy would. Again, if it already did: a retry.
    Merge {
        replica: usize,
        guest: usize,
        back: usize,
        sum: bool,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let r = 0..REPLICAS;
    let s = 0..SKUS.len();
    let g = 0..GUESTS;
    prop_oneof![
        4 => (r.clone(), s.clone(), 1u32..=4).prop_map(|(r, s, n)| Step::Add(r, s, n)),
        2 => (r.clone(), s.clone(), 0u32..=6).prop_map(|(r, s, n)| Step::Set(r, s, n)),
        2 => (r.clone(), s.clone()).prop_map(|(r, s)| Step::Remove(r, s)),
        2 => (r.clone(), s.clone(), any::<bool>()).prop_map(|(r, s, b)| Step::Select(r, s, b)),
        1 => r.clone().prop_map(Step::Clear),
        2 => (r.clone(), prop::collection::vec(batch_op(), 1..6)).prop_map(|(r, ops)| Step::Batch(r, ops)),
        3 => (r.clone(), r.clone()).prop_map(|(a, b)| Step::Sync(a, b)),
        1 => r.clone().prop_map(Step::Reload),
        2 => (g.clone(), s.clone(), 1u32..=4).prop_map(|(g, s, n)| Step::GuestAdd(g, s, n)),
        1 => (g.clone(), s.clone(), 0u32..=5).prop_map(|(g, s, n)| Step::GuestSet(g, s, n)),
        3 => (r, g, prop_oneof![3 => Just(0usize), 1 => 1usize..4], any::<bool>())
            .prop_map(|(replica, guest, back, sum)| Step::Merge { replica, guest, back, sum }),
    ]
}

/// One operation of a batch, over the same skus as the single edits.
fn batch_op() -> impl Strategy<Value = Op> {
    let sku = (0..SKUS.len()).prop_map(|s| SKUS[s].to_owned());
    prop_oneof![
        4 => (sku.clone(), 1u32..=4).prop_map(|(sku, qty)| Op::Add { sku, qty }),
        2 => (sku.clone(), 0u32..=6).prop_map(|(sku, qty)| Op::Set { sku, qty }),
        1 => sku.clone().prop_map(|sku| Op::Remove { sku }),
        2 => (sku, any::<bool>()).prop_map(|(sku, selected)| Op::Select { sku, selected }),
        1 => any::<bool>().prop_map(|selected| Op::SelectAll { selected }),
        1 => Just(Op::Clear),
    ]
}

/// What the rules record for `op`, made by a replica that showed `before`: the same intents as the single edit.
fn intents_of(op: &Op, before: &CartView) -> Vec<Intent> {
    let new_line = |sku: &str| before.qty(sku) == 0;
    match op {
        Op::Add { sku, qty } => {
            let mut intents = vec![Intent::Add {
                sku: sku.clone(),
                n: u64::from(*qty),
            }];
            if new_line(sku) {
                intents.push(intent_select(sku, true));
            }
            intents
        }
        Op::Set { sku, .. } | Op::Remove { sku } => {
            let n = if let Op::Set { qty, .. } = op {
                *qty
            } else {
                0
            };
            if new_line(sku) && n == 0 {
                // Removing a line that is not there records nothing.
                return vec![];
            }
            let mut intents = vec![intent_set(sku, n)];
            if new_line(sku) {
                intents.push(intent_select(sku, true));
            }
            intents
        }
        Op::Select { sku, selected } => before
            .line(sku)
            .filter(|l| l.selected != *selected)
            .map(|_| vec![intent_select(sku, *selected)])
            .unwrap_or_default(),
        Op::SelectAll { selected } => before
            .lines
            .iter()
            .filter(|l| l.selected != *selected)
            .map(|l| intent_select(&l.sku, *selected))
            .collect(),
        Op::Clear => before.lines.iter().map(|l| intent_set(&l.sku, 0)).collect(),
    }
}

/// Edits by today's writers and the layout-1 writers of carts stored before 2026-12-01, side by side. Those carts
/// hold no merge records (layout 1 predates them), so no merges here.
fn old_and_new_writer_step() -> impl Strategy<Value = Step> {
    let r = 0..REPLICAS;
    let s = 0..SKUS.len();
    prop_oneof![
        4 => (r.clone(), s.clone(), 1u32..=4).prop_map(|(r, s, n)| Step::Add(r, s, n)),
        2 => (r.clone(), s.clone(), 0u32..=6).prop_map(|(r, s, n)| Step::Set(r, s, n)),
        3 => (r.clone(), s.clone(), 0u32..=6).prop_map(|(r, s, n)| Step::OldSet(r, s, n)),
        1 => (r.clone(), s.clone()).prop_map(|(r, s)| Step::Remove(r, s)),
        2 => (r.clone(), prop::collection::vec(batch_op(), 1..6)).prop_map(|(r, ops)| Step::Batch(r, ops)),
        3 => (r.clone(), r.clone()).prop_map(|(a, b)| Step::Sync(a, b)),
        1 => r.prop_map(Step::Reload),
    ]
}

/// The model's view of what replica `r` knows, checked against its cart.
fn check(
    history: &History,
    known: &BTreeSet<usize>,
    r: usize,
    view: &CartView,
) -> Result<(), TestCaseError> {
    for sku in SKUS {
        let qty = u64::from(view.qty(sku));
        let allowed = history.allowed_qty(known, sku);
        prop_assert!(
            allowed.contains(&qty),
            "replica {r} sku {sku}: qty {qty}, the rules allow {allowed:?}"
        );
        if let Some(line) = view.line(sku) {
            let sel = history.allowed_selected(known, sku);
            prop_assert!(
                sel.contains(&line.selected),
                "replica {r} sku {sku}: selected {}, the rules allow {sel:?}",
                line.selected
            );
        }
    }
    Ok(())
}

fn intent_set(sku: &str, n: u32) -> Intent {
    Intent::Set {
        sku: sku.to_owned(),
        n: u64::from(n),
    }
}

fn intent_select(sku: &str, on: bool) -> Intent {
    Intent::Select {
        sku: sku.to_owned(),
        on,
    }
}

/// A guest cart and every state it has been in (saved), oldest first.
struct Guest {
    cart: Cart,
    states: Vec<Vec<u8>>,
}

/// A replica and its storage: a full save followed by every incremental save since, as a host would persist it.
struct Replica {
    cart: Cart,
    stored: Vec<u8>,
    actor: u8,
}

impl Replica {
    fn persist(&mut self) {
        let inc = self.cart.save_incremental();
        self.stored.extend(inc);
    }
}

fn run(steps: &[Step]) -> Result<(), TestCaseError> {
    // Independently created carts (never synced): they must still converge without hiding each other's lines.
    let mut reps: Vec<Replica> = (0..REPLICAS)
        .map(|i| {
            let mut cart = replica(i as u8 + 1);
            let stored = cart.save();
            Replica {
                cart,
                stored,
                actor: i as u8 + 1,
            }
        })
        .collect();
    let mut history = History::default();
    let mut known: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); REPLICAS];
    // The guest carts: made on other devices (their own actors), never synced with the user's replicas.
    let mut guests: Vec<Guest> = (0..GUESTS)
        .map(|g| {
            let mut cart = replica((REPLICAS + 1 + g) as u8);
            let states = vec![cart.save()];
            Guest { cart, states }
        })
        .collect();
    let fail = |e: &dyn std::fmt::Display| TestCaseError::fail(e.to_string());

    for step in steps {
        match *step {
            Step::Add(r, s, n) => {
                let before = reps[r].cart.view();
                if reps[r].cart.add(SKUS[s], n).is_ok() {
                    let mut intents = vec![Intent::Add {
                        sku: SKUS[s].to_owned(),
                        n: u64::from(n),
                    }];
                    if before.qty(SKUS[s]) == 0 {
                        intents.push(intent_select(SKUS[s], true));
                    }
                    history.record(&mut known[r], intents);
                } else {
                    prop_assert!(
                        before.qty(SKUS[s]) + n > MAX_QTY,
                        "add refused without reason"
                    );
                }
            }
            Step::Set(r, s, _) | Step::Remove(r, s) => {
                let n = if let Step::Set(_, _, n) = *step { n } else { 0 };
                let before = reps[r].cart.view().qty(SKUS[s]);
                reps[r]
                    .cart
                    .set_quantity(SKUS[s], n)
                    .map_err(|e| fail(&e))?;
                if !(before == 0 && n == 0) {
                    let mut intents = vec![intent_set(SKUS[s], n)];
                    if before == 0 {
                        intents.push(intent_select(SKUS[s], true));
                    }
                    history.record(&mut known[r], intents);
                }
            }
            Step::OldSet(r, s, n) => {
                let before = reps[r].cart.view().qty(SKUS[s]);
                let rep = &mut reps[r];
                let heads = rep.cart.heads();
                if before > 0 {
                    common::old_layout_set(&mut rep.cart, rep.actor, SKUS[s], u64::from(n));
                }
                // Automerge leaves out a put of the value already there: a layout-1 set of a line that had no add
                // to delete and already held `n` wrote nothing, and no replica ever learns of it.
                if rep.cart.heads() != heads {
                    history.record(&mut known[r], vec![intent_set(SKUS[s], n)]);
                }
            }
            Step::Select(r, s, b) => {
                let before = reps[r].cart.view();
                match before.line(SKUS[s]) {
                    Some(line) => {
                        reps[r]
                            .cart
                            .set_selected(SKUS[s], b)
                            .map_err(|e| fail(&e))?;
                        if line.selected != b {
                            history.record(&mut known[r], vec![intent_select(SKUS[s], b)]);
                        }
                    }
                    None => prop_assert!(reps[r].cart.set_selected(SKUS[s], b).is_err()),
                }
            }
            Step::Clear(r) => {
                let before = reps[r].cart.view();
                reps[r].cart.clear().map_err(|e| fail(&e))?;
                let intents = before.lines.iter().map(|l| intent_set(&l.sku, 0)).collect();
                history.record(&mut known[r], intents);
            }
            Step::Batch(r, ref ops) => {
                // The same operations one by one on a copy of the replica: what each of them saw, and what the
                // batch must leave.
                let mut one_by_one = Cart::load(&reps[r].cart.encode()).map_err(|e| fail(&e))?;
                one_by_one.set_clock(|| 1_700_000_000_000);
                let mut intents = Vec::new();
                let mut refused_at = None;
                for (i, op) in ops.iter().enumerate() {
                    let before = one_by_one.view();
                    if one_by_one.apply(std::slice::from_ref(op)).is_err() {
                        refused_at = Some(i);
                        break;
                    }
                    intents.push(intents_of(op, &before));
                }
                let heads = reps[r].cart.heads();
                match reps[r].cart.apply(ops) {
                    Ok(()) => {
                        prop_assert_eq!(
                            refused_at,
                            None,
                            "the batch applied an op that fails alone"
                        );
                        // The same lines (the version differs: another actor made them).
                        // Line for line; only the stamps of new lines differ (a batch stamps them in the order it
                        // made them, one by one on this constant clock they tie).
                        let lines = |v: CartView| {
                            let mut l: Vec<_> = v
                                .lines
                                .into_iter()
                                .map(|l| (l.sku, l.qty, l.selected))
                                .collect();
                            l.sort();
                            l
                        };
                        prop_assert_eq!(lines(reps[r].cart.view()), lines(one_by_one.view()));
                        let changes = reps[r].cart.doc().get_changes(&heads).len();
                        prop_assert_eq!(
                            changes,
                            usize::from(reps[r].cart.heads() != heads),
                            "a batch is one change (none when it changed nothing)"
                        );
                        // In order: each operation saw the ones before it.
                        for made in intents {
                            history.record(&mut known[r], made);
                        }
                    }
                    Err(e) => {
                        prop_assert_eq!(e.index, refused_at);
                        prop_assert_eq!(
                            reps[r].cart.heads(),
                            heads,
                            "a refused batch changed the cart"
                        );
                    }
                }
            }
            Step::Sync(a, b) if a != b => {
                let (x, y) = two(&mut reps, a, b);
                sync(&mut x.cart, &mut y.cart);
                prop_assert_eq!(json(&x.cart), json(&y.cart));
                let union: BTreeSet<usize> = known[a].union(&known[b]).copied().collect();
                known[a] = union.clone();
                known[b] = union;
            }
            Step::Sync(..) => {}
            Step::GuestAdd(g, s, n) => {
                let guest = &mut guests[g];
                if guest.cart.add(SKUS[s], n).is_ok() {
                    guest.states.push(guest.cart.save());
                }
            }
            Step::GuestSet(g, s, n) => {
                let guest = &mut guests[g];
                let before = guest.cart.heads();
                guest.cart.set_quantity(SKUS[s], n).map_err(|e| fail(&e))?;
                if guest.cart.heads() != before {
                    guest.states.push(guest.cart.save());
                }
            }
            Step::Merge {
                replica: r,
                guest: g,
                back,
                sum,
            } => {
                let states = &guests[g].states;
                let state = states.len() - 1 - back.min(states.len() - 1);
                let guest_cart = Cart::load(&states[state]).map_err(|e| fail(&e))?;
                let policy = if sum {
                    MergePolicy::Sum
                } else {
                    MergePolicy::Max
                };
                let before = reps[r].cart.view();
                let knew = history.knows_merge(&known[r], g, state);
                let report = reps[r]
                    .cart
                    .merge_guest(&guest_cart, &format!("guest-{g}"), policy)
                    .map_err(|e| fail(&e))?;
                prop_assert_eq!(
                    report.already_merged,
                    knew,
                    "replica {} merged a state it knew of",
                    r
                );
                if !knew {
                    let view = guest_cart.view();
                    let lines: BTreeMap<String, u64> = view
                        .lines
                        .iter()
                        .map(|l| (l.sku.clone(), u64::from(l.qty)))
                        .collect();
                    let mut intents = vec![Intent::Merge {
                        guest: g,
                        state,
                        sum,
                        lines,
                    }];
                    for l in &view.lines {
                        if before.qty(&l.sku) == 0 {
                            intents.push(intent_select(&l.sku, l.selected));
                        }
                    }
                    history.record(&mut known[r], intents);
                }
            }
            Step::Reload(r) => {
                let rep = &mut reps[r];
                rep.persist();
                let before = json(&rep.cart);
                let mut cart = Cart::load(&rep.stored).map_err(|e| fail(&e))?;
                cart.set_actor(cart_core::ActorId::from([rep.actor; 16]));
                cart.set_clock(|| 1_700_000_000_000);
                prop_assert_eq!(
                    json(&cart),
                    before,
                    "reload from incremental saves changed the view"
                );
                prop_assert_eq!(json(&cart), json(&Cart::load(&rep.cart.save()).unwrap()));
                rep.cart = cart;
                rep.stored = rep.cart.save();
            }
        }
        if let Step::Sync(..) | Step::Reload(..) = step {
        } else {
            reps.iter_mut().for_each(Replica::persist);
        }
        for (r, rep) in reps.iter().enumerate() {
            check(&history, &known[r], r, &rep.cart.view())?;
            prop_assert!(
                rep.cart.cache_matches_a_fresh_read(),
                "replica {}: cached lines drifted",
                r
            );
        }
    }

    // Full sync: a ring twice brings everyone everything.
    for _ in 0..2 {
        for i in 0..REPLICAS {
            let (x, y) = two(&mut reps, i, (i + 1) % REPLICAS);
            sync(&mut x.cart, &mut y.cart);
        }
    }
    let all: BTreeSet<usize> = (0..history.events.len()).collect();
    let first = json(&reps[0].cart);
    for (r, rep) in reps.iter().enumerate() {
        prop_assert_eq!(
            json(&rep.cart),
            first.clone(),
            "replica {} differs after full sync",
            r
        );
        check(&history, &all, r, &rep.cart.view())?;
    }
    Ok(())
}

fn two<T>(v: &mut [T], a: usize, b: usize) -> (&mut T, &mut T) {
    assert_ne!(a, b);
    if a < b {
        let (l, r) = v.split_at_mut(b);
        (&mut l[a], &mut r[0])
    } else {
        let (l, r) = v.split_at_mut(a);
        (&mut r[0], &mut l[b])
    }
}

/// Schedules per run: 256 in `make test`; `make sim` runs 10,000 (`SIM_CASES`). Failing seeds are kept in
/// `convergence.proptest-regressions` (committed) and replayed first on every run.
fn cases(default: u32) -> u32 {
    std::env::var("SIM_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(256), ..ProptestConfig::default() })]

    #[test]
    fn replicas_editing_merging_growing_guests_and_syncing_in_random_orders_converge_and_obey_the_rules(
        steps in proptest::collection::vec(step(), 1..60),
    ) {
        run(&steps)?;
    }

    #[test]
    fn old_and_new_writers_side_by_side_lose_no_add_and_converge(
        steps in proptest::collection::vec(old_and_new_writer_step(), 1..60),
    ) {
        run(&steps)?;
    }
}

// S7 against a model: independently created guest and user carts, merged by one or two user replicas, once or
// retried, give exactly max/sum per sku and keep every line.
#[derive(Debug, Clone)]
struct MergeCase {
    guest: Vec<(usize, u32)>,
    user: Vec<(usize, u32)>,
    sum: bool,
    replicas: usize,
    retry: bool,
}

fn merge_case() -> impl Strategy<Value = MergeCase> {
    let lines = proptest::collection::vec((0..8usize, 1u32..=600), 0..12);
    (
        lines.clone(),
        lines,
        any::<bool>(),
        1..=3usize,
        any::<bool>(),
    )
        .prop_map(|(guest, user, sum, replicas, retry)| MergeCase {
            guest,
            user,
            sum,
            replicas,
            retry,
        })
}

fn build(r: u8, edits: &[(usize, u32)]) -> Cart {
    let mut cart = replica(r);
    for &(s, n) in edits {
        let _ = cart.add(&format!("P{s}"), n); // refusals past 999 are part of the case
    }
    cart
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(128), ..ProptestConfig::default() })]

    #[test]
    fn login_merge_keeps_every_line_applies_the_policy_and_is_idempotent(case in merge_case()) {
        let guest = build(1, &case.guest);
        let mut user = build(2, &case.user);
        let policy = if case.sum { MergePolicy::Sum } else { MergePolicy::Max };
        let (g, u) = (guest.view(), user.view());
        let mut merged: Vec<Cart> = (0..case.replicas)
            .map(|i| common::fork(&mut user, 10 + i as u8))
            .collect();
        for cart in merged.iter_mut() {
            cart.merge_guest(&guest, "guest", policy).map_err(|e| TestCaseError::fail(e.to_string()))?;
            if case.retry {
                prop_assert!(cart.merge_guest(&guest, "guest", policy).unwrap().already_merged);
            }
        }
        for cart in &merged {
            prop_assert!(cart.cache_matches_a_fresh_read(), "cached lines drifted after the merge");
        }
        let mut first = merged.remove(0);
        for other in merged.iter_mut() {
            sync(&mut first, other);
        }
        let v = first.view();
        for s in 0..8 {
            let sku = format!("P{s}");
            let (gq, uq) = (g.qty(&sku), u.qty(&sku));
            let want = match policy {
                MergePolicy::Max => gq.max(uq),
                MergePolicy::Sum => (gq + uq).min(MAX_QTY),
            };
            prop_assert_eq!(v.qty(&sku), want, "sku {} guest {} user {}", sku, gq, uq);
        }
    }
}
