//! Property tests: replicas make random edits, perform login merges of a guest cart, sync in random partial orders,
//! reload from their incremental saves, then sync fully. All views must be byte-identical and obey the semantics,
//! checked against a reference model of the causal history.

mod common;
use cart_core::{Cart, CartView, MergePolicy, MAX_QTY};
use common::{json, replica, sync};
use proptest::prelude::*;
use std::collections::BTreeSet;

const SKUS: [&str; 4] = ["A", "B", "C", "D"];
const REPLICAS: usize = 4;

#[derive(Debug, Clone)]
enum Step {
    Add(usize, usize, u32),
    Set(usize, usize, u32),
    Remove(usize, usize),
    Select(usize, usize, bool),
    Clear(usize),
    Sync(usize, usize),
    Reload(usize),
    /// The replica performs the login merge of the run's guest cart (again, if it already did: a retry).
    Merge(usize),
}

fn step() -> impl Strategy<Value = Step> {
    let r = 0..REPLICAS;
    let s = 0..SKUS.len();
    prop_oneof![
        4 => (r.clone(), s.clone(), 1u32..=4).prop_map(|(r, s, n)| Step::Add(r, s, n)),
        2 => (r.clone(), s.clone(), 0u32..=6).prop_map(|(r, s, n)| Step::Set(r, s, n)),
        2 => (r.clone(), s.clone()).prop_map(|(r, s)| Step::Remove(r, s)),
        2 => (r.clone(), s.clone(), any::<bool>()).prop_map(|(r, s, b)| Step::Select(r, s, b)),
        1 => r.clone().prop_map(Step::Clear),
        3 => (r.clone(), r.clone()).prop_map(|(a, b)| Step::Sync(a, b)),
        1 => r.clone().prop_map(Step::Reload),
        1 => r.prop_map(Step::Merge),
    ]
}

/// The guest cart merged at login in one run: lines (sku index, quantity, selected) and the policy.
#[derive(Debug, Clone)]
struct Guest {
    lines: Vec<(usize, u32, bool)>,
    sum: bool,
}

fn guest() -> impl Strategy<Value = Guest> {
    (
        proptest::collection::vec((0..SKUS.len(), 1u32..=5, any::<bool>()), 0..4),
        any::<bool>(),
    )
        .prop_map(|(lines, sum)| Guest { lines, sum })
}

/// What the model remembers of one recorded edit.
#[derive(Debug, Clone)]
enum Kind {
    Add(u32),
    Set(u32),
    Select(bool),
    /// A login merge's contribution to a line: concurrent contributions of one guest state count once (the
    /// smallest), and a set that saw it overrides it, like an add.
    Merge(u32),
    /// The record that the guest state was merged (sku ""): a replica that knows it reports `already_merged`.
    Merged,
}

#[derive(Debug, Clone)]
struct Event {
    sku: &'static str,
    kind: Kind,
    /// Every event the editing replica had seen when it made this one.
    seen: BTreeSet<usize>,
}

/// The reference model: the causal history of every edit, and which edits each replica knows.
struct Model {
    events: Vec<Event>,
    known: Vec<BTreeSet<usize>>,
}

impl Model {
    fn record(&mut self, r: usize, edits: Vec<(&'static str, Kind)>) {
        let seen = self.known[r].clone();
        for (sku, kind) in edits {
            self.known[r].insert(self.events.len());
            self.events.push(Event {
                sku,
                kind,
                seen: seen.clone(),
            });
        }
    }

    fn for_sku<'a>(
        &'a self,
        known: &'a BTreeSet<usize>,
        sku: &'a str,
    ) -> impl Iterator<Item = (usize, &'a Event)> + 'a {
        known
            .iter()
            .map(|&i| (i, &self.events[i]))
            .filter(move |(_, e)| e.sku == sku)
    }

    /// The quantities the rules allow for `sku` given the edits in `known`: one per winning-set candidate.
    fn allowed_qty(&self, known: &BTreeSet<usize>, sku: &str) -> BTreeSet<u32> {
        let sets: Vec<(usize, u32, &BTreeSet<usize>)> = self
            .for_sku(known, sku)
            .filter_map(|(i, e)| match e.kind {
                Kind::Set(n) => Some((i, n, &e.seen)),
                _ => None,
            })
            .collect();
        // S1/S3/S5: an add counts unless the winning set (or remove) had seen it.
        let adds_unseen_by = |seen: Option<&BTreeSet<usize>>| -> u32 {
            self.for_sku(known, sku)
                .filter_map(|(i, e)| match e.kind {
                    Kind::Add(n) => Some((i, n)),
                    _ => None,
                })
                .filter(|(i, _)| !seen.is_some_and(|s| s.contains(i)))
                .map(|(_, n)| n)
                .sum()
        };
        // S7: the login merge's contributions no set has overridden; replicas that merged concurrently count once.
        let overwritten = |i: &usize| sets.iter().any(|(_, _, seen)| seen.contains(i));
        let merged: u32 = self
            .for_sku(known, sku)
            .filter_map(|(i, e)| match e.kind {
                Kind::Merge(n) => Some((i, n)),
                _ => None,
            })
            .filter(|(i, _)| !overwritten(i))
            .map(|(_, n)| n)
            .min()
            .unwrap_or(0);
        // S5: among sets no other set had seen, one wins (the model allows any of them); the adds it had not seen
        // are added on top.
        let clamp = |q: u32| q.min(MAX_QTY);
        let frontier: Vec<(u32, &BTreeSet<usize>)> = sets
            .iter()
            .filter(|(i, _, _)| !sets.iter().any(|(_, _, seen)| seen.contains(i)))
            .map(|(_, n, seen)| (*n, *seen))
            .collect();
        if frontier.is_empty() {
            BTreeSet::from([clamp(adds_unseen_by(None) + merged)])
        } else {
            frontier
                .into_iter()
                .map(|(n, seen)| clamp(n + adds_unseen_by(Some(seen)) + merged))
                .collect()
        }
    }

    /// S6: the selection values the rules allow (the not-overwritten writes); new lines start selected.
    fn allowed_selected(&self, known: &BTreeSet<usize>, sku: &str) -> BTreeSet<bool> {
        let writes: Vec<(usize, bool, &BTreeSet<usize>)> = self
            .for_sku(known, sku)
            .filter_map(|(i, e)| match e.kind {
                Kind::Select(b) => Some((i, b, &e.seen)),
                _ => None,
            })
            .collect();
        let frontier: BTreeSet<bool> = writes
            .iter()
            .filter(|(i, _, _)| !writes.iter().any(|(_, _, seen)| seen.contains(i)))
            .map(|(_, b, _)| *b)
            .collect();
        if frontier.is_empty() {
            BTreeSet::from([true])
        } else {
            frontier
        }
    }

    /// Whether replica `r` knows that the guest state was merged.
    fn knows_merge(&self, r: usize) -> bool {
        self.known[r]
            .iter()
            .any(|&i| matches!(self.events[i].kind, Kind::Merged))
    }

    fn check(&self, r: usize, view: &CartView) -> Result<(), TestCaseError> {
        for sku in SKUS {
            let qty = view.qty(sku);
            let allowed = self.allowed_qty(&self.known[r], sku);
            prop_assert!(
                allowed.contains(&qty),
                "replica {r} sku {sku}: qty {qty}, model allows {allowed:?}"
            );
            if let Some(line) = view.line(sku) {
                let sel = self.allowed_selected(&self.known[r], sku);
                prop_assert!(
                    sel.contains(&line.selected),
                    "replica {r} sku {sku}: selected {}, model allows {sel:?}",
                    line.selected
                );
            }
        }
        Ok(())
    }
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

fn run(steps: &[Step], guest: &Guest) -> Result<(), TestCaseError> {
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
    let mut model = Model {
        events: Vec::new(),
        known: vec![BTreeSet::new(); REPLICAS],
    };
    // The guest cart: made on another device (its own actor), never synced with the user's replicas.
    let mut guest_cart = replica(REPLICAS as u8 + 1);
    for &(s, n, selected) in &guest.lines {
        guest_cart
            .add(SKUS[s], n)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        guest_cart
            .set_selected(SKUS[s], selected)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
    let policy = if guest.sum {
        MergePolicy::Sum
    } else {
        MergePolicy::Max
    };

    for step in steps {
        match *step {
            Step::Add(r, s, n) => {
                let before = reps[r].cart.view();
                if reps[r].cart.add(SKUS[s], n).is_ok() {
                    let mut edits = vec![(SKUS[s], Kind::Add(n))];
                    if before.qty(SKUS[s]) == 0 {
                        edits.push((SKUS[s], Kind::Select(true)));
                    }
                    model.record(r, edits);
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
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                if !(before == 0 && n == 0) {
                    let mut edits = vec![(SKUS[s], Kind::Set(n))];
                    if before == 0 {
                        edits.push((SKUS[s], Kind::Select(true)));
                    }
                    model.record(r, edits);
                }
            }
            Step::Select(r, s, b) => {
                let before = reps[r].cart.view();
                match before.line(SKUS[s]) {
                    Some(line) => {
                        reps[r]
                            .cart
                            .set_selected(SKUS[s], b)
                            .map_err(|e| TestCaseError::fail(e.to_string()))?;
                        if line.selected != b {
                            model.record(r, vec![(SKUS[s], Kind::Select(b))]);
                        }
                    }
                    None => prop_assert!(reps[r].cart.set_selected(SKUS[s], b).is_err()),
                }
            }
            Step::Clear(r) => {
                let before = reps[r].cart.view();
                reps[r]
                    .cart
                    .clear()
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let edits = before
                    .lines
                    .iter()
                    .map(|l| {
                        (
                            SKUS.iter().copied().find(|s| *s == l.sku).unwrap_or("A"),
                            Kind::Set(0),
                        )
                    })
                    .collect();
                model.record(r, edits);
            }
            Step::Sync(a, b) if a != b => {
                let (x, y) = two(&mut reps, a, b);
                sync(&mut x.cart, &mut y.cart);
                prop_assert_eq!(json(&x.cart), json(&y.cart));
                let union: BTreeSet<usize> =
                    model.known[a].union(&model.known[b]).copied().collect();
                model.known[a] = union.clone();
                model.known[b] = union;
            }
            Step::Sync(..) => {}
            Step::Merge(r) => {
                let before = reps[r].cart.view();
                let knew = model.knows_merge(r);
                let report = reps[r]
                    .cart
                    .merge_guest(&guest_cart, policy)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(
                    report.already_merged,
                    knew,
                    "replica {} retried a merge it knew of",
                    r
                );
                if !knew {
                    let mut edits = vec![("", Kind::Merged)];
                    for g in guest_cart.view().lines {
                        let sku = SKUS.iter().copied().find(|s| *s == g.sku).unwrap_or("A");
                        let user = before.qty(sku);
                        let wanted = if guest.sum {
                            g.qty
                        } else {
                            g.qty.saturating_sub(user)
                        };
                        let give = wanted.min(MAX_QTY - user);
                        if give > 0 {
                            edits.push((sku, Kind::Merge(give)));
                            if user == 0 {
                                edits.push((sku, Kind::Select(g.selected)));
                            }
                        }
                    }
                    model.record(r, edits);
                }
            }
            Step::Reload(r) => {
                let rep = &mut reps[r];
                rep.persist();
                let before = json(&rep.cart);
                let mut cart =
                    Cart::load(&rep.stored).map_err(|e| TestCaseError::fail(e.to_string()))?;
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
            model.check(r, &rep.cart.view())?;
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
    let all: BTreeSet<usize> = (0..model.events.len()).collect();
    model.known = vec![all; REPLICAS];
    let first = json(&reps[0].cart);
    for (r, rep) in reps.iter().enumerate() {
        prop_assert_eq!(
            json(&rep.cart),
            first.clone(),
            "replica {} differs after full sync",
            r
        );
        model.check(r, &rep.cart.view())?;
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
    fn replicas_editing_merging_and_syncing_in_random_orders_converge_and_obey_the_rules(
        steps in proptest::collection::vec(step(), 1..60),
        guest in guest(),
    ) {
        run(&steps, &guest)?;
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
            cart.merge_guest(&guest, policy).map_err(|e| TestCaseError::fail(e.to_string()))?;
            if case.retry {
                prop_assert!(cart.merge_guest(&guest, policy).unwrap().already_merged);
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
