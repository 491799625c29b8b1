//! The cart's layout on Automerge, and the raw reads and writes over it.
//!
//! Automerge resolves two replicas that independently create an object at the same key by keeping one and hiding
//! the other, so nothing here is ever created on demand. Every container is made once, by a *genesis* change that
//! is byte-identical on every replica (fixed actor, time 0, no deps): every cart shares it, and independently
//! created carts agree on every container's id. Per-sku data then lives only in scalars:
//!
//! | container | type | key -> value | rule |
//! |---|---|---|---|
//! | `base` | map | sku -> uint `n + 1000 * seen`, or string `"<n> <seen> <record>,..."` | the quantity `n` last *set*, `seen`, the sum of the adds the set had seen, and (layout 3) the latest merge records it had seen; concurrent sets: Automerge's deterministic winner |
//! | `adds` | list | element -> `"<sku>"` or `"<n> <sku>"` | one element per add (`n` = 1 when absent), inserted at the head; concurrent inserts all survive, so adds sum; never deleted |
//! | `merges` | map | `"<sku>/<tag>"` -> uint | layout 2's login-merge contributions: still read, never written |
//! | `merged` | map | `"<guest>@<state>"` -> merge record (layout 3, `records.rs`); layout 2: tag -> guest heads | the guest states merged |
//! | `selected` | map | sku -> bool | last writer wins |
//! | `addedAt` | map | sku -> timestamp | written when a line is created |
//!
//! quantity(sku) = max(n + (sum(adds of sku) - seen) + sum(merge contributions of sku) + records' sum, records'
//! floor), clamped to 0..=999, where `n`, `seen` and the records seen come from the winning `base` value (0, 0 and
//! none when the line was never set), and the records' sum and floor follow README's rule 7 (`records.rs`).
//! A set (or remove, which sets 0) writes `base` with the adds it can see as `seen`, and deletes every merge
//! contribution of that sku it can see: what it saw is overridden, what it did not see (a concurrent add, or one
//! the winning set had not seen) is added on top. Adds are never deleted, which keeps a set to one op and the
//! history small: the sum of the adds a set saw is a number, not a list of deletions. (Carts written before this
//! rule, layout 1, deleted the adds a set saw and stored `n` alone. A history with such a delete is read exactly,
//! from the changes after each winning set, so that an old writer's losing set takes no add away: see
//! [`history_deletes_adds`] and ARCHITECTURE.md, "Old and new writers side by side".)

use automerge::{
    legacy::{ElementId, Key, OpId, OpType},
    transaction::{CommitOptions, Transactable},
    ActorId, Automerge, ChangeHash, ObjId, ObjType, ReadDoc, ScalarValue, ScalarValueRef, Value,
    ValueRef, ROOT,
};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::limits::{is_valid_sku, MAX_QTY};
use crate::records::{self, Records};
use crate::{guard, raw};

/// The actor of the genesis change. Fixed, so that the change is identical on every replica.
pub(crate) const GENESIS_ACTOR: &[u8; 16] = b"edge-cart/schema";
/// Version of the genesis change, stored at the root as `schema`. It is part of the genesis every cart shares, so it
/// never changes; the layout's version is [`LAYOUT`].
pub const SCHEMA_VERSION: u64 = 1;

/// The layout this code reads and writes: 1 was the layout before 2026-12-01 (a set deleted the adds it saw), 2 the
/// layout of 2026-12-01 (a set records the sum of the adds it saw; a login merge wrote computed contributions), 3
/// today's (a login merge writes a record of the guest state it merged, and a set the records it saw). Carts of
/// layouts 1 and 2 carry no `layout` register and this code reads both; the first merge written into a cart raises
/// the register to 3, in the same change, so that older readers stop before they meet a record. A replica whose
/// document (or an incoming change) names a layout above this one refuses to write (`UPGRADE_REQUIRED`) rather
/// than misread it.
pub const LAYOUT: u64 = 3;
/// The layout a document without a `layout` register has: 1 or 2, which read alike.
pub(crate) const LAYOUT_UNANNOUNCED: u64 = 2;

pub(crate) const BASE: &str = "base";
pub(crate) const ADDS: &str = "adds";
pub(crate) const MERGES: &str = "merges";
pub(crate) const MERGED: &str = "merged";
pub(crate) const SELECTED: &str = "selected";
pub(crate) const ADDED_AT: &str = "addedAt";
/// The root key later layouts raise to announce themselves (see `guard.rs`).
pub(crate) const LAYOUT_KEY: &str = "layout";

/// The containers in the order the genesis change creates them.
const CONTAINERS: [(&str, ObjType); 6] = [
    (BASE, ObjType::Map),
    (ADDS, ObjType::List),
    (MERGES, ObjType::Map),
    (MERGED, ObjType::Map),
    (SELECTED, ObjType::Map),
    (ADDED_AT, ObjType::Map),
];

/// Ids of the genesis containers. Their op ids are fixed by the genesis change, so they are the same in every cart.
#[derive(Debug, Clone)]
pub(crate) struct Containers {
    pub base: ObjId,
    pub adds: ObjId,
    pub merges: ObjId,
    pub merged: ObjId,
    pub selected: ObjId,
    pub added_at: ObjId,
}

impl Containers {
    /// The containers as the genesis change numbers them: op 1 is `schema`, ops 2.. are the containers in order.
    pub fn fixed() -> Self {
        let actor = ActorId::from(GENESIS_ACTOR);
        let id = |n: u64| ObjId::Id(n, actor.clone(), 0);
        Containers {
            base: id(2),
            adds: id(3),
            merges: id(4),
            merged: id(5),
            selected: id(6),
            added_at: id(7),
        }
    }
}

/// A new document holding only the genesis change, its actor switched to `actor` for all later edits.
pub(crate) fn genesis(actor: ActorId) -> Automerge {
    let mut doc = Automerge::new().with_actor(ActorId::from(GENESIS_ACTOR));
    let mut tx = doc.transaction();
    // Errors here would mean Automerge refused a put on a fresh document: a broken invariant, not bad input.
    tx.put(ROOT, "schema", SCHEMA_VERSION)
        .expect("genesis: put schema");
    for (key, typ) in CONTAINERS {
        tx.put_object(ROOT, key, typ)
            .expect("genesis: put container");
    }
    tx.commit_with(CommitOptions::default().with_time(0));
    doc.with_actor(actor)
}

/// The hash of the genesis change, which every cart contains.
pub(crate) fn genesis_hash() -> ChangeHash {
    static HASH: std::sync::OnceLock<ChangeHash> = std::sync::OnceLock::new();
    *HASH.get_or_init(|| genesis(ActorId::from(GENESIS_ACTOR)).get_heads()[0])
}

/// Scale of `seen` in a `base` value. Part of the stored layout, so a fixed number, not derived from the per-line
/// limit: raising `MAX_QTY` to 1000 or more must not silently re-decode every stored `base`, so it fails to compile
/// instead (the line below), and needs a new layout.
const SEEN_SCALE: u64 = 1000;
const _: () = assert!(
    (MAX_QTY as u64) < SEEN_SCALE,
    "MAX_QTY must stay below the stored SEEN_SCALE"
);

/// The `base` value of a set to `n` that saw adds summing to `seen` and the merge records `records`: a uint when it
/// saw no record (every cart without login merges, and layout 2), else a string.
pub(crate) fn encode_base(n: u32, seen: u64, records: &[String]) -> ScalarValue {
    if records.is_empty() {
        ScalarValue::Uint(u64::from(n).saturating_add(seen.saturating_mul(SEEN_SCALE)))
    } else {
        ScalarValue::Str(format!("{n} {seen} {}", records.join(",")).into())
    }
}

/// A `base` value: the quantity set, the adds it saw and the records it saw.
fn parse_base(v: &ValueRef<'_>) -> Option<(u64, u64, Vec<String>)> {
    if let Some(n) = ref_u64(v) {
        let (n, seen) = decode_base(n);
        return Some((n, seen, Vec::new()));
    }
    let ValueRef::Scalar(ScalarValueRef::Str(text)) = v else {
        return None;
    };
    let mut fields = text.split(' ');
    let n: u64 = fields.next()?.parse().ok()?;
    let seen = fields.next()?.parse().ok()?;
    let records = fields.next()?.split(',').map(str::to_owned).collect();
    (n <= u64::from(MAX_QTY) && fields.next().is_none()).then_some((n, seen, records))
}

/// The quantity set and the adds it saw, from a `base` value.
pub(crate) fn decode_base(v: u64) -> (u64, u64) {
    (v % SEEN_SCALE, v / SEEN_SCALE)
}

/// The state of one line as stored, before clamping.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct RawLine {
    /// The quantity last set (0 if never set).
    pub base: u64,
    /// The sum of the adds that set had seen.
    pub seen: u64,
    /// The sum of every add.
    pub adds: u64,
    /// The adds the winning set had not seen, when read exactly (`read_lines` with `exact`); else `adds - seen`.
    pub unseen: Option<u64>,
    pub merges: u64,
    /// What the merge records add to the line (README's rule 7) ...
    pub guest_sum: u64,
    /// ... and what `max` guests raise it by.
    pub guest_lift: u64,
    pub selected: Option<bool>,
    pub added_at: Option<i64>,
}

impl RawLine {
    /// What a set (or remove) leaves: `n` as the base, every add it saw counted as seen, every contribution it saw
    /// deleted, every merge record it saw overridden. `exact`: the cart is read exactly (`read_lines`).
    pub fn overwrite(&mut self, n: u32, exact: bool) {
        self.base = u64::from(n);
        self.seen = self.adds;
        self.unseen = exact.then_some(0);
        self.merges = 0;
        self.guest_sum = 0;
        self.guest_lift = 0;
    }

    /// What an add of `n` leaves: one more add, which no set has seen.
    pub fn added(&mut self, n: u32) {
        self.adds = self.adds.saturating_add(u64::from(n));
        self.unseen = self.unseen.map(|u| u.saturating_add(u64::from(n)));
    }

    /// What creating a line writes.
    pub fn start(&mut self, selected: bool, added_at: i64) {
        self.selected = Some(selected);
        self.added_at = Some(added_at);
    }

    /// The quantity without the login-merge contributions, unclamped: the set quantity plus the adds it had not
    /// seen.
    pub fn unmerged(&self) -> u64 {
        self.base.saturating_add(
            self.unseen
                .unwrap_or_else(|| self.adds.saturating_sub(self.seen)),
        )
    }

    /// The quantity before clamping.
    pub fn unclamped(&self) -> u64 {
        self.unmerged()
            .saturating_add(self.merges)
            .saturating_add(self.guest_sum)
            .saturating_add(self.guest_lift)
    }

    /// The quantity the shopper sees: [`Self::unclamped`] clamped to `0..=MAX_QTY`.
    pub fn qty(&self) -> u32 {
        self.unclamped().min(u64::from(MAX_QTY)) as u32
    }
}

/// Reads every line of the document, at its current state or at `heads`.
///
/// Each container is read in one ordered scan (`map_range`), which is far cheaper than a lookup per key. Values a
/// foreign Automerge writer may have put in the wrong shape (a string where a number belongs, an invalid sku) are
/// skipped, never trusted and never a panic.
///
/// With `exact` (the history deleted an add, see [`history_deletes_adds`]), the adds each line's winning set had
/// not seen are read from the history after that set, not from the sum the set stored.
pub(crate) fn read_lines(
    doc: &Automerge,
    c: &Containers,
    heads: Option<&[ChangeHash]>,
    exact: bool,
) -> BTreeMap<String, RawLine> {
    read_lines_with(doc, c, heads, None, exact)
}

/// [`read_lines`]; with `baseline_of = Some(guest)`, the lines a `max` merge of `guest` is measured against: without
/// that guest's records and without any lift.
fn read_lines_with(
    doc: &Automerge,
    c: &Containers,
    heads: Option<&[ChangeHash]>,
    baseline_of: Option<&str>,
    exact: bool,
) -> BTreeMap<String, RawLine> {
    let mut lines: BTreeMap<String, RawLine> = BTreeMap::new();
    let mut seen_records: BTreeMap<String, Vec<String>> = BTreeMap::new();
    scan(doc, &c.base, heads, |sku, value, _| {
        if is_valid_sku(sku) {
            let (n, seen, records) = parse_base(value).unwrap_or_default();
            let line = lines.entry(sku.to_owned()).or_default();
            line.base = n;
            line.seen = seen;
            if !records.is_empty() {
                seen_records.insert(sku.to_owned(), records);
            }
        }
    });
    let adds = match heads {
        Some(h) => doc.values_at(&c.adds, h).collect::<Vec<_>>(),
        None => doc.values(&c.adds).collect::<Vec<_>>(),
    };
    for (value, _) in adds {
        if let Some((n, sku)) = value.as_str().and_then(parse_add) {
            let line = lines.entry(sku.to_owned()).or_default();
            line.adds = line.adds.saturating_add(n);
        }
    }
    if exact {
        reread_unseen(doc, c, heads, &mut lines);
    }
    scan(doc, &c.merges, heads, |key, value, conflict| {
        if let Some((sku, _tag)) = split_merge_key(key) {
            let n = if conflict {
                merge_contribution(doc, c, key, heads)
            } else {
                ref_u64(value).unwrap_or(0)
            };
            let line = lines.entry(sku.to_owned()).or_default();
            line.merges = line.merges.saturating_add(n);
        }
    });
    let mut records = read_records(doc, c, heads);
    if let Some(guest) = baseline_of {
        records = records.without(guest);
    }
    if !records.is_empty() {
        let skus: Vec<String> = records.skus().map(str::to_owned).collect();
        for sku in skus {
            lines.entry(sku).or_default();
        }
        // Baselines by guest and by which of its merges had the line, each read once.
        let mut copies_of: BTreeMap<String, Vec<(ChangeHash, records::Record)>> = BTreeMap::new();
        let mut baselines: BTreeMap<(String, Vec<ChangeHash>), BTreeMap<String, RawLine>> =
            BTreeMap::new();
        for (sku, line) in lines.iter_mut() {
            let seen = seen_records.get(sku).map_or(&[][..], Vec::as_slice);
            let got = records.contribution(sku, seen);
            line.guest_sum = got.sum;
            if baseline_of.is_some() {
                continue;
            }
            for (guest, q) in &got.lifts {
                let copies = copies_of
                    .entry(guest.clone())
                    .or_insert_with(|| merge_copies(doc, c, heads, &records, guest));
                let mut with_line: Vec<ChangeHash> = copies
                    .iter()
                    .filter(|(_, record)| record.lines.contains_key(sku.as_str()))
                    .map(|(hash, _)| *hash)
                    .collect();
                with_line.sort();
                with_line.dedup();
                let base = baselines
                    .entry((guest.clone(), with_line))
                    .or_insert_with_key(|(_, merges)| {
                        baseline(doc, c, heads, guest, merges, exact)
                    });
                let b = base.get(sku).map_or(0, RawLine::unclamped);
                line.guest_lift = line.guest_lift.max(q.saturating_sub(b));
            }
        }
    }
    scan(doc, &c.selected, heads, |sku, value, _| {
        if let (Some(line), ValueRef::Scalar(ScalarValueRef::Boolean(b))) =
            (lines.get_mut(sku), value)
        {
            line.selected = Some(*b);
        }
    });
    scan(doc, &c.added_at, heads, |sku, value, _| {
        if let Some(line) = lines.get_mut(sku) {
            line.added_at = ref_i64(value);
        }
    });
    lines
}

/// The lines a `max` guest is measured against: the cart without that guest's records and without every change
/// made after `merges` (every replica's copy of each record of that guest that had the line), so that concurrent
/// edits count (`max` against everything the first merge could have seen), as do edits after a merge of a state
/// without the line (they saw nothing of the guest's line), and edits after one with it, which saw a merged result,
/// add on top.
fn baseline(
    doc: &Automerge,
    c: &Containers,
    heads: Option<&[ChangeHash]>,
    guest: &str,
    merges: &[ChangeHash],
    exact: bool,
) -> BTreeMap<String, RawLine> {
    let merges: HashSet<ChangeHash> = merges.iter().copied().collect();
    let before = not_after(doc, heads, &merges);
    read_lines_with(doc, c, Some(&before), Some(guest), exact)
}

/// Every replica's copy of every record of `guest`: the change that wrote it, and the record.
fn merge_copies(
    doc: &Automerge,
    c: &Containers,
    heads: Option<&[ChangeHash]>,
    records: &Records,
    guest: &str,
) -> Vec<(ChangeHash, records::Record)> {
    let mut copies = Vec::new();
    for key in records.keys_of(guest) {
        for (value, id) in all_values(doc, &c.merged, key, heads) {
            let record = value.as_str().and_then(|v| records::parse_record(key, v));
            if let (Some(hash), Some(record)) = (doc.hash_for_opid(&id), record) {
                copies.push((hash, record));
            }
        }
    }
    copies
}

/// Sets each line's `unseen` to the sum of the adds its winning set had not seen (README, rules 3 and 5): every add
/// inserted by a change outside that set's history (within `heads`), including an add a concurrent layout-1 set
/// deleted: that set lost, so it takes nothing away, which the stored `seen` sum cannot tell. One walk of the
/// changes outside each distinct winning set's history.
fn reread_unseen(
    doc: &Automerge,
    c: &Containers,
    heads: Option<&[ChangeHash]>,
    lines: &mut BTreeMap<String, RawLine>,
) {
    let winners: Vec<(String, ObjId)> = match heads {
        Some(h) => doc
            .map_range_at(&c.base, .., h)
            .map(|item| (item.key.to_string(), item.id()))
            .collect(),
        None => doc
            .map_range(&c.base, ..)
            .map(|item| (item.key.to_string(), item.id()))
            .collect(),
    };
    // The changes beyond `heads`, which a view at `heads` does not count.
    let beyond: HashSet<ChangeHash> = heads
        .map(|h| doc.get_changes(h).iter().map(|ch| ch.hash()).collect())
        .unwrap_or_default();
    let mut outside: HashMap<ChangeHash, Outside> = HashMap::new();
    for (sku, id) in winners {
        let (Some(line), Some(hash)) = (lines.get_mut(&sku), doc.hash_for_opid(&id)) else {
            continue;
        };
        let of = outside
            .entry(hash)
            .or_insert_with(|| Outside::of(doc, c, hash, &beyond));
        line.unseen = Some(of.unseen(&sku));
    }
}

/// The changes outside one winning set's history (within a view's heads), as much of them as the exact rule
/// reads.
struct Outside {
    changes: Vec<Touched>,
}

/// What one change did to the lines.
struct Touched {
    hash: ChangeHash,
    deps: Vec<ChangeHash>,
    /// Whether it comes after the winning set (its history holds it), rather than concurrently.
    after: bool,
    /// Its adds: element, sku, quantity.
    adds: Vec<(OpId, String, u64)>,
    /// The skus whose `base` it overwrote, or whose adds it deleted: what a set does.
    sets: BTreeSet<String>,
}

impl Outside {
    fn of(doc: &Automerge, c: &Containers, hash: ChangeHash, beyond: &HashSet<ChangeHash>) -> Self {
        // The sku of every add element the winning set could see, for the deletes that name them.
        let mut sku_of: BTreeMap<OpId, String> = doc
            .values_at(&c.adds, &[hash])
            .filter_map(|(value, id)| {
                let (_, sku) = value.as_str().and_then(parse_add)?;
                let ObjId::Id(counter, actor, _) = id else {
                    return None;
                };
                Some((OpId(counter, actor), sku.to_owned()))
            })
            .collect();
        let mut after: HashSet<ChangeHash> = HashSet::from([hash]);
        let mut changes = Vec::new();
        // Automerge lists changes in an order that can apply: dependencies first.
        for change in doc.get_changes(&[hash]) {
            if beyond.contains(&change.hash()) {
                continue;
            }
            let is_after = change.deps().iter().any(|d| after.contains(d));
            if is_after {
                after.insert(change.hash());
            }
            let mut touched = Touched {
                hash: change.hash(),
                deps: change.deps().to_vec(),
                after: is_after,
                adds: Vec::new(),
                sets: BTreeSet::new(),
            };
            let bytes = change.raw_bytes();
            // `Change::decode` panics on ops a cart never writes; a change with any is no cart's: it counts for
            // nothing but its place in the history.
            if raw::parseable(bytes) && raw::only_puts_and_deletes(bytes) {
                let start_op = change.start_op().get();
                for (i, op) in change.decode().operations.into_iter().enumerate() {
                    match (op.action, op.insert, op.key) {
                        (OpType::Put(ScalarValue::Str(s)), true, _) if guard::is_adds(&op.obj) => {
                            if let Some((n, sku)) = parse_add(&s) {
                                let id = OpId(start_op + i as u64, change.actor_id().clone());
                                sku_of.insert(id.clone(), sku.to_owned());
                                touched.adds.push((id, sku.to_owned(), n));
                            }
                        }
                        (OpType::Delete, false, Key::Seq(ElementId::Id(id)))
                            if guard::is_adds(&op.obj) =>
                        {
                            touched.sets.extend(sku_of.get(&id).cloned());
                        }
                        (_, false, Key::Map(sku)) if guard::is_base(&op.obj) => {
                            touched.sets.insert(sku.to_string());
                        }
                        _ => {}
                    }
                }
            }
            changes.push(touched);
        }
        Outside { changes }
    }

    /// The adds of `sku` the winning set had not seen. Automerge leaves out a put of the value a key already holds
    /// (or writes it as a delete of the conflicting values), so a layout-1 set after the winning one may show only
    /// as deletes; the latest such set is the one that counts, with the winner's quantity: the adds it had seen
    /// (and deleted) do not count. A layout-1 set concurrent with the winner lost: the adds it deleted still count.
    fn unseen(&self, sku: &str) -> u64 {
        let later: Vec<&Touched> = self
            .changes
            .iter()
            .filter(|t| t.after && t.sets.contains(sku))
            .collect();
        let histories: Vec<HashSet<ChangeHash>> =
            later.iter().map(|t| self.history_of(t.hash)).collect();
        // Of the latest sets (in no other's history), the largest hash: the same choice on every replica.
        let latest = (0..later.len())
            .filter(|&i| !(0..later.len()).any(|j| j != i && histories[j].contains(&later[i].hash)))
            .max_by_key(|&i| later[i].hash);
        let seen = latest.map(|i| &histories[i]);
        self.changes
            .iter()
            .filter(|t| !seen.is_some_and(|h| h.contains(&t.hash)))
            .flat_map(|t| t.adds.iter())
            .filter(|(_, s, _)| s == sku)
            .fold(0u64, |sum, (_, _, n)| sum.saturating_add(*n))
    }

    /// `hash` and its history, among these changes.
    fn history_of(&self, hash: ChangeHash) -> HashSet<ChangeHash> {
        let deps: HashMap<ChangeHash, &[ChangeHash]> = self
            .changes
            .iter()
            .map(|t| (t.hash, t.deps.as_slice()))
            .collect();
        let mut history = HashSet::new();
        let mut stack = vec![hash];
        while let Some(h) = stack.pop() {
            if let Some(ds) = deps.get(&h) {
                if history.insert(h) {
                    stack.extend(ds.iter().copied());
                }
            }
        }
        history
    }
}

/// Whether an add was ever deleted in `doc`'s history. Only layout-1 writers deleted adds (a set deleted the adds
/// it saw); since then a set stores the sum of the adds it saw, which reads right only while those adds stay.
/// A cart whose history holds such a delete is read exactly ([`read_lines`] with `exact`), at the cost of one
/// read of the `adds` list per change holding a winning set. Read from the document's uncompressed encoding,
/// where a deleted element is an insert op with a successor (`raw.rs`); an encoding it cannot read answers yes.
pub(crate) fn history_deletes_adds(doc: &Automerge, c: &Containers) -> bool {
    let ObjId::Id(counter, actor, _) = &c.adds else {
        return true;
    };
    raw::document_has_successors(&doc.save_nocompress(), actor.to_bytes(), *counter).unwrap_or(true)
}

/// The heads of the changes (of those at `heads`) that are not `changes` nor after any of them. That set is closed
/// under dependencies (an ancestor of a change that is not after them is not after them either), so it is a state.
fn not_after(
    doc: &Automerge,
    heads: Option<&[ChangeHash]>,
    changes: &HashSet<ChangeHash>,
) -> Vec<ChangeHash> {
    let metas = doc.get_changes_meta(&[]);
    let deps: HashMap<ChangeHash, &[ChangeHash]> =
        metas.iter().map(|m| (m.hash, m.deps.as_slice())).collect();
    let scope: HashSet<ChangeHash> = match heads {
        None => deps.keys().copied().collect(),
        Some(h) => {
            let mut scope = HashSet::new();
            let mut stack: Vec<ChangeHash> = h.to_vec();
            while let Some(hash) = stack.pop() {
                if deps.contains_key(&hash) && scope.insert(hash) {
                    stack.extend(deps[&hash].iter().copied());
                }
            }
            scope
        }
    };
    let mut children: HashMap<ChangeHash, Vec<ChangeHash>> = HashMap::new();
    for hash in &scope {
        for dep in deps[hash] {
            children.entry(*dep).or_default().push(*hash);
        }
    }
    let mut after: HashSet<ChangeHash> = HashSet::new();
    let mut stack: Vec<ChangeHash> = changes
        .iter()
        .copied()
        .filter(|h| scope.contains(h))
        .collect();
    while let Some(hash) = stack.pop() {
        if after.insert(hash) {
            stack.extend(children.get(&hash).into_iter().flatten().copied());
        }
    }
    let kept: HashSet<ChangeHash> = scope.difference(&after).copied().collect();
    let covered: HashSet<ChangeHash> = kept.iter().flat_map(|h| deps[h].iter().copied()).collect();
    let mut out: Vec<ChangeHash> = kept.difference(&covered).copied().collect();
    out.sort();
    out
}

/// Every merge record in the `merged` map. One key with several values (the same guest state merged on several
/// replicas, with two policies, or with room for different lines) reads as their union (`records::combine`).
pub(crate) fn read_records(
    doc: &Automerge,
    c: &Containers,
    heads: Option<&[ChangeHash]>,
) -> Records {
    let mut found = Vec::new();
    scan(doc, &c.merged, heads, |key, value, conflict| {
        let values: Vec<String> = if conflict {
            scalars(all_values(doc, &c.merged, key, heads))
                .filter_map(|v| match v {
                    ScalarValue::Str(text) => Some(text.to_string()),
                    _ => None,
                })
                .collect()
        } else {
            match value {
                ValueRef::Scalar(ScalarValueRef::Str(s)) => vec![s.to_string()],
                _ => Vec::new(),
            }
        };
        let copies = values.iter().filter_map(|v| records::parse_record(key, v));
        if let Some(record) = records::combine(copies) {
            found.push(record);
        }
    });
    Records::new(found)
}

/// Calls `f(key, winning value, has conflicts)` for every key of the map `obj`, in key order.
fn scan(
    doc: &Automerge,
    obj: &ObjId,
    heads: Option<&[ChangeHash]>,
    mut f: impl FnMut(&str, &ValueRef<'_>, bool),
) {
    match heads {
        Some(h) => doc
            .map_range_at(obj, .., h)
            .for_each(|item| f(&item.key, &item.value, item.conflict)),
        None => doc
            .map_range(obj, ..)
            .for_each(|item| f(&item.key, &item.value, item.conflict)),
    }
}

fn ref_u64(v: &ValueRef<'_>) -> Option<u64> {
    match v {
        ValueRef::Scalar(ScalarValueRef::Uint(n)) => Some(*n),
        ValueRef::Scalar(ScalarValueRef::Int(n)) => u64::try_from(*n).ok(),
        _ => None,
    }
}

fn ref_i64(v: &ValueRef<'_>) -> Option<i64> {
    match v {
        ValueRef::Scalar(ScalarValueRef::Timestamp(n) | ScalarValueRef::Int(n)) => Some(*n),
        ValueRef::Scalar(ScalarValueRef::Uint(n)) => i64::try_from(*n).ok(),
        _ => None,
    }
}

/// A layout-2 merge contribution's value. When replicas performing "the same" merge saw different user quantities
/// they wrote different values under one key; the smallest wins, on every replica alike.
pub(crate) fn merge_contribution(
    doc: &Automerge,
    c: &Containers,
    key: &str,
    heads: Option<&[ChangeHash]>,
) -> u64 {
    scalars(all_values(doc, &c.merges, key, heads))
        .filter_map(|v| as_u64(&v))
        .min()
        .unwrap_or(0)
}

/// Every value at `key` of the map `obj` (concurrent writes included), at the current state or at `heads`.
fn all_values<'a>(
    doc: &'a Automerge,
    obj: &ObjId,
    key: &str,
    heads: Option<&[ChangeHash]>,
) -> Vec<(Value<'a>, ObjId)> {
    match heads {
        Some(h) => doc.get_all_at(obj, key, h),
        None => doc.get_all(obj, key),
    }
    .unwrap_or_default()
}

/// The scalars among `values`.
fn scalars<'a>(values: Vec<(Value<'a>, ObjId)>) -> impl Iterator<Item = ScalarValue> + 'a {
    values.into_iter().filter_map(|(v, _)| match v {
        Value::Scalar(s) => Some(s.into_owned()),
        Value::Object(_) => None,
    })
}

/// Encodes one add as a list element: the sku alone for one item (most adds, and every byte is paid by every
/// replica for ever), otherwise `"<n> <sku>"`.
pub(crate) fn encode_add(n: u32, sku: &str) -> String {
    if n == 1 {
        sku.to_owned()
    } else {
        format!("{n} {sku}")
    }
}

/// Decodes a list element written by [`encode_add`]; anything else is ignored. A sku never contains a space, so
/// the two forms cannot be confused.
pub(crate) fn parse_add(s: &str) -> Option<(u64, &str)> {
    let (n, sku) = match s.split_once(' ') {
        Some((n, sku)) => (n.parse().ok()?, sku),
        None => (1, s),
    };
    (n > 0 && is_valid_sku(sku)).then_some((n, sku))
}

/// Splits a merge contribution key into sku and tag.
pub(crate) fn split_merge_key(key: &str) -> Option<(&str, &str)> {
    let (sku, tag) = key.split_once('/')?;
    is_valid_sku(sku).then_some((sku, tag))
}

fn as_u64(v: &ScalarValue) -> Option<u64> {
    match v {
        ScalarValue::Uint(n) => Some(*n),
        ScalarValue::Int(n) => u64::try_from(*n).ok(),
        _ => None,
    }
}

/// The layout `doc` declares: its root `layout` uint, or [`LAYOUT`] when it has none (layouts 1 and 2 carry none,
/// and this code reads both).
pub(crate) fn layout_of(doc: &Automerge) -> u64 {
    match doc.get(ROOT, LAYOUT_KEY) {
        Ok(Some((Value::Scalar(s), _))) => as_u64(&s).unwrap_or(u64::MAX),
        Ok(Some(_)) => u64::MAX,
        _ => LAYOUT_UNANNOUNCED,
    }
}

/// Whether `doc` is laid out as a cart: it holds the genesis change.
pub(crate) fn is_cart(doc: &Automerge) -> bool {
    doc.get_change_by_hash(&genesis_hash()).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_genesis_change_is_identical_whatever_the_replicas_actor() {
        let a = genesis(ActorId::from([1u8; 16]));
        let b = genesis(ActorId::from([2u8; 16]));
        assert_eq!(a.get_heads(), b.get_heads());
        assert_eq!(a.save(), b.save());
    }

    #[test]
    fn the_genesis_hash_never_changes() {
        // Every stored cart contains this change. If an Automerge upgrade encoded it differently, new carts would no
        // longer share containers with old ones and merges between them would hide lines: this test stops that.
        assert_eq!(genesis_hash().to_string(), PINNED_GENESIS_HASH);
    }

    const PINNED_GENESIS_HASH: &str =
        "8b8f591e6b28df5027a2d4c11dc3c1b67c410a27f729c9271c046d0afbc73025";

    #[test]
    fn the_fixed_container_ids_are_the_ones_the_genesis_change_creates() {
        let doc = genesis(ActorId::from([1u8; 16]));
        let c = Containers::fixed();
        for (key, id) in [
            (BASE, &c.base),
            (ADDS, &c.adds),
            (MERGES, &c.merges),
            (MERGED, &c.merged),
            (SELECTED, &c.selected),
            (ADDED_AT, &c.added_at),
        ] {
            let (_, got) = doc.get(ROOT, key).unwrap().unwrap();
            assert_eq!(&got, id, "{key}");
        }
    }

    #[test]
    fn malformed_add_elements_are_ignored() {
        assert_eq!(parse_add("2 MUG"), Some((2, "MUG")));
        assert_eq!(parse_add("MUG"), Some((1, "MUG")));
        assert_eq!(parse_add("1 MUG"), Some((1, "MUG")));
        assert_eq!(parse_add(&encode_add(1, "MUG")), Some((1, "MUG")));
        assert_eq!(parse_add(&encode_add(7, "MUG")), Some((7, "MUG")));
        for bad in [
            "",
            "a/b",
            "0 MUG",
            "-1 MUG",
            "x MUG",
            "2 ",
            "2 a/b",
            "99999999999999999999 MUG",
        ] {
            assert_eq!(parse_add(bad), None, "{bad:?}");
        }
    }
}
