//! What a received change may do: the cart layout's rules, checked before Automerge applies the change.
//!
//! Automerge 0.12 trusts the changes it applies. A change with a valid checksum and hash, built with Automerge's
//! own encoder from an edited `ExpandedChange`, can name an object that does not exist, reuse an actor's sequence
//! number, start its op counter anywhere, or overwrite ops that come after it; Automerge then panics ("Missing from
//! Index", "hashes were not sorted", an unwrap of a counter conversion) or stores a document that no longer loads.
//! The `forged_change` fuzz target finds these by the hundred (`fuzz/crashers/forged_change/`).
//!
//! A cart needs very little of Automerge, so every change other than the genesis is held to what the layout
//! allows (`schema.rs`):
//! - **history**: sequence number one more than the author's last change (1 for a new author); start op one more
//!   than the largest op of its dependencies, and above the author's last op;
//! - **objects**: ops only on the genesis containers (and a scalar `layout` at the root); no change creates an
//!   object;
//! - **actions and values**: maps take puts of their value type (`base`, `merges`: integers; `merged`: strings;
//!   `selected`: booleans; `addedAt`: timestamps) and deletes; the `adds` list takes string inserts and deletes;
//!   no counters, increments or marks;
//! - **references**: every op an op overwrites (`pred`) and every list element it names precedes the change (an
//!   op counter below its start op) or is an earlier op of the same change.
//!
//! Honest replicas of every layout so far write nothing else; the property tests send every change they make
//! through this check.

use std::collections::BTreeMap;

use automerge::legacy::{ElementId, Key, ObjectId, OpId, OpType, SortedVec};
use automerge::{ActorId, Automerge, Change, ChangeHash, ObjId, ReadDoc, ScalarValue};
use thiserror::Error;

use crate::raw;
use crate::schema::{self, GENESIS_ACTOR};

/// Why a received change was refused before Automerge saw it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InvalidChange {
    /// Its sequence number is not the next of its author.
    #[error("change {seq} of actor {actor} does not follow its author's change {last}")]
    Sequence {
        /// The author, in hex.
        actor: String,
        /// The sequence number it claims.
        seq: u64,
        /// The author's last known sequence number.
        last: u64,
    },
    /// Its op counter does not start right after its dependencies' ops.
    #[error("a change starts at op {start_op}; its history ends at op {history}")]
    StartOp {
        /// The start op it claims.
        start_op: u64,
        /// The largest op of its history.
        history: u64,
    },
    /// An op acts on an object the cart layout does not have.
    #[error("an op acts on an object outside the cart layout")]
    Object,
    /// An op does something the layout never does to that container (an action, a key or a value type).
    #[error("an op does what the cart layout never does to {0}")]
    Action(&'static str),
    /// The change raises the cart's layout above the one this code knows ([`crate::LAYOUT`]): this replica is older
    /// than the cart and must be upgraded before it reads or writes it.
    #[error("the change raises the cart to layout {0}; this code knows layout {max}", max = crate::LAYOUT)]
    NewerLayout(u64),
    /// An op refers to an op that does not precede it, or overwrites ops that are not at its key or element.
    #[error("an op refers to an op that does not precede it or is not where it writes")]
    Reference,
}

/// An author's last change as far as a document knows: its sequence number and largest op.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct AuthorClock {
    pub seq: u64,
    pub max_op: u64,
}

/// Every author of a document with its last change.
pub(crate) type Clocks = BTreeMap<ActorId, AuthorClock>;

/// Records `change` in `clocks`.
pub(crate) fn record(clocks: &mut Clocks, change: &Change) {
    let entry = clocks.entry(change.actor_id().clone()).or_default();
    entry.seq = entry.seq.max(change.seq());
    entry.max_op = entry.max_op.max(change.max_op());
}

/// What a container is, for the rules.
#[derive(Clone, Copy)]
enum Container {
    Root,
    Map(&'static str, fn(&ScalarValue) -> bool),
    Adds,
}

fn integer(v: &ScalarValue) -> bool {
    matches!(v, ScalarValue::Uint(_) | ScalarValue::Int(_))
}
fn integer_or_string(v: &ScalarValue) -> bool {
    integer(v) || string(v)
}
fn string(v: &ScalarValue) -> bool {
    matches!(v, ScalarValue::Str(_))
}
fn boolean(v: &ScalarValue) -> bool {
    matches!(v, ScalarValue::Boolean(_))
}
fn timestamp(v: &ScalarValue) -> bool {
    matches!(
        v,
        ScalarValue::Timestamp(_) | ScalarValue::Int(_) | ScalarValue::Uint(_)
    )
}

/// Whether `obj` is the `base` map.
pub(crate) fn is_base(obj: &ObjectId) -> bool {
    matches!(container(obj), Some(Container::Map(name, _)) if name == schema::BASE)
}

/// Whether `obj` is the `adds` list.
pub(crate) fn is_adds(obj: &ObjectId) -> bool {
    matches!(container(obj), Some(Container::Adds))
}

fn container(obj: &ObjectId) -> Option<Container> {
    let ObjectId::Id(OpId(counter, actor)) = obj else {
        return Some(Container::Root);
    };
    if actor.to_bytes() != GENESIS_ACTOR.as_slice() {
        return None;
    }
    // The genesis change numbers its ops: 1 is `schema`, 2..=7 the containers in `schema::CONTAINERS` order.
    Some(match counter {
        2 => Container::Map(schema::BASE, integer_or_string),
        3 => Container::Adds,
        4 => Container::Map(schema::MERGES, integer),
        5 => Container::Map(schema::MERGED, string),
        6 => Container::Map(schema::SELECTED, boolean),
        7 => Container::Map(schema::ADDED_AT, timestamp),
        _ => return None,
    })
}

/// Checks `ready`, the changes about to be applied in this order, against the layout. `history_max_op` gives the
/// largest op of a change the document holds; `clocks` the document's authors. Answers whether any of them deletes
/// an add (only layout-1 writers did; see `schema::history_deletes_adds`).
pub(crate) fn check(
    ready: &[&Change],
    doc: &Automerge,
    history_max_op: &dyn Fn(&ChangeHash) -> Option<u64>,
    clocks: &Clocks,
) -> Result<bool, InvalidChange> {
    let mut deletes_adds = false;
    let genesis = schema::genesis_hash();
    let mut batch: BTreeMap<ChangeHash, u64> = BTreeMap::new();
    let mut batch_clocks: Clocks = BTreeMap::new();
    let mut refs = Refs::new(doc);
    for change in ready {
        let hash = change.hash();
        if hash == genesis || history_max_op(&hash).is_some() || batch.contains_key(&hash) {
            // The genesis is the same in every cart, and Automerge skips a change it already has.
            batch.insert(hash, change.max_op());
            continue;
        }
        let actor = change.actor_id();
        let last = batch_clocks
            .get(actor)
            .or_else(|| clocks.get(actor))
            .copied()
            .unwrap_or_default();
        if change.seq() != last.seq + 1 {
            return Err(InvalidChange::Sequence {
                actor: actor.to_hex_string(),
                seq: change.seq(),
                last: last.seq,
            });
        }
        let history = change
            .deps()
            .iter()
            .map(|d| {
                batch
                    .get(d)
                    .copied()
                    .or_else(|| history_max_op(d))
                    .unwrap_or(u64::MAX)
            })
            .max()
            .unwrap_or(0);
        let start_op = change.start_op().get();
        if history == u64::MAX || start_op != history + 1 || start_op <= last.max_op {
            return Err(InvalidChange::StartOp { start_op, history });
        }
        let seen_of_author = refs.enter(change);
        if batch_clocks.contains_key(actor) && seen_of_author != last.seq {
            // The author's previous change is in this batch but not in this change's history: no honest replica
            // writes that, and the batch's vector clocks (which decide what an op may overwrite) assume it.
            return Err(InvalidChange::Sequence {
                actor: actor.to_hex_string(),
                seq: change.seq(),
                last: seen_of_author,
            });
        }
        deletes_adds |= check_ops(change, start_op, &mut refs)?;
        batch.insert(hash, change.max_op());
        record(&mut batch_clocks, change);
    }
    Ok(deletes_adds)
}

/// Checks one change's ops; answers whether it deletes an add.
fn check_ops(change: &Change, start_op: u64, refs: &mut Refs<'_>) -> Result<bool, InvalidChange> {
    // `Change::decode` panics on an action it does not know (or an increment of a non-number); a cart writes
    // only puts and deletes after its genesis, so anything else is refused before decoding.
    if !raw::only_puts_and_deletes(change.raw_bytes()) {
        return Err(InvalidChange::Action(
            "any container (an action other than put or delete)",
        ));
    }
    let author = change.actor_id();
    let mut deletes_adds = false;
    for (i, op) in change.decode().operations.iter().enumerate() {
        let counter = start_op + i as u64;
        // An op may name ops before the change, or earlier ops of its own.
        let precedes = |id: &OpId| id.0 < start_op || (id.1 == *author && id.0 < counter);
        if !op.pred.iter().all(precedes) {
            return Err(InvalidChange::Reference);
        }
        let kind = container(&op.obj).ok_or(InvalidChange::Object)?;
        let allowed = match (kind, &op.key, &op.action, op.insert) {
            (Container::Root, Key::Map(k), OpType::Put(ScalarValue::Uint(n)), false)
                if k == schema::LAYOUT_KEY =>
            {
                if *n > schema::LAYOUT {
                    return Err(InvalidChange::NewerLayout(*n));
                }
                refs.overwrites(&op.obj, &Slot::Map(k.to_string()), &op.pred)?
            }
            (Container::Root, ..) => false,
            (Container::Map(_, typed), Key::Map(k), OpType::Put(v), false) => {
                !k.is_empty()
                    && typed(v)
                    && refs.overwrites(&op.obj, &Slot::Map(k.to_string()), &op.pred)?
            }
            // A delete deletes the ops it names: one naming none leaves Automerge's op set inconsistent (the
            // document then no longer saves and loads).
            (Container::Map(..), Key::Map(k), OpType::Delete, false) => {
                !k.is_empty()
                    && !op.pred.is_empty()
                    && refs.overwrites(&op.obj, &Slot::Map(k.to_string()), &op.pred)?
            }
            (Container::Map(..), ..) => false,
            (Container::Adds, Key::Seq(elem), OpType::Put(v), true) => {
                string(v)
                    && op.pred.is_empty()
                    && element_precedes(elem, &precedes)
                    && match elem {
                        ElementId::Head => true,
                        ElementId::Id(id) => refs.is_element(&op.obj, id),
                    }
            }
            (Container::Adds, Key::Seq(ElementId::Id(id)), OpType::Delete, false) => {
                deletes_adds = true;
                precedes(id)
                    && !op.pred.is_empty()
                    && refs.overwrites(&op.obj, &Slot::Elem(id.clone()), &op.pred)?
            }
            (Container::Adds, ..) => false,
        };
        if allowed {
            refs.wrote(op, OpId(counter, author.clone()));
        } else {
            return Err(InvalidChange::Action(match kind {
                Container::Root => "the root",
                Container::Map(name, _) => name,
                Container::Adds => schema::ADDS,
            }));
        }
    }
    Ok(deletes_adds)
}

fn element_precedes(elem: &ElementId, precedes: &dyn Fn(&OpId) -> bool) -> bool {
    match elem {
        ElementId::Head => true,
        ElementId::Id(id) => precedes(id),
    }
}

/// A slot of a container: a map key, or a list element (named by the op that inserted it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Slot {
    Map(String),
    Elem(OpId),
}

/// What ops a change may overwrite: those visible at its history in the document (its dependencies, traced back
/// through the batch to the document), and those the batch itself wrote earlier at the same slot.
struct Refs<'a> {
    doc: &'a Automerge,
    heads: Vec<ChangeHash>,
    /// For each change of the batch, the document changes its history reaches first.
    frontiers: BTreeMap<ChangeHash, Vec<ChangeHash>>,
    /// The frontier of the change being checked.
    frontier: Vec<ChangeHash>,
    /// Ops written by the batch so far, by object and slot, each with the sequence number of the change that
    /// wrote it (its author is the op's actor).
    written: BTreeMap<(Option<OpId>, Slot), Vec<(OpId, u64)>>,
    /// For each change of the batch, the changes of the batch its history holds, as a vector clock (author ->
    /// highest sequence number), itself included.
    clocks: BTreeMap<ChangeHash, BTreeMap<ActorId, u64>>,
    /// The clock of the change being checked.
    clock: BTreeMap<ActorId, u64>,
    /// The sequence number of the change being checked.
    seq: u64,
}

fn obj_key(obj: &ObjectId) -> Option<OpId> {
    match obj {
        ObjectId::Root => None,
        ObjectId::Id(id) => Some(id.clone()),
    }
}

fn obj_id(obj: &ObjectId) -> ObjId {
    match obj {
        ObjectId::Root => ObjId::Root,
        ObjectId::Id(OpId(counter, actor)) => ObjId::Id(*counter, actor.clone(), 0),
    }
}

fn op_id(id: &ObjId) -> Option<OpId> {
    match id {
        ObjId::Id(counter, actor, _) => Some(OpId(*counter, actor.clone())),
        ObjId::Root => None,
    }
}

impl<'a> Refs<'a> {
    fn new(doc: &'a Automerge) -> Self {
        let mut heads = doc.get_heads();
        heads.sort();
        Refs {
            doc,
            heads,
            frontiers: BTreeMap::new(),
            frontier: Vec::new(),
            written: BTreeMap::new(),
            clocks: BTreeMap::new(),
            clock: BTreeMap::new(),
            seq: 0,
        }
    }

    /// Whether the batch change that wrote `id` (sequence number `seq`) is in the history of the change being
    /// checked (or is it): a change may only name ops it could have seen.
    fn saw(&self, id: &OpId, seq: u64) -> bool {
        self.clock.get(&id.1).is_some_and(|s| *s >= seq)
    }

    /// Starts checking `change`: works out its frontier in the document and its clock in the batch. Returns the
    /// highest sequence number of its own author that its history holds in the batch (0 if none).
    fn enter(&mut self, change: &Change) -> u64 {
        let mut frontier: Vec<ChangeHash> = Vec::new();
        for dep in change.deps() {
            match self.frontiers.get(dep) {
                Some(f) => frontier.extend(f.iter().copied()),
                None => frontier.push(*dep),
            }
        }
        frontier.sort();
        frontier.dedup();
        self.frontiers.insert(change.hash(), frontier.clone());
        self.frontier = frontier;
        let mut clock: BTreeMap<ActorId, u64> = BTreeMap::new();
        for dep in change.deps() {
            for (actor, seq) in self.clocks.get(dep).into_iter().flatten() {
                let s = clock.entry(actor.clone()).or_default();
                *s = (*s).max(*seq);
            }
        }
        let seen_of_author = clock.get(change.actor_id()).copied().unwrap_or(0);
        clock.insert(change.actor_id().clone(), change.seq());
        self.clocks.insert(change.hash(), clock.clone());
        self.clock = clock;
        self.seq = change.seq();
        seen_of_author
    }

    /// The ops visible at `slot` of `obj` at the current change's frontier.
    fn visible(&self, obj: &ObjectId, slot: &Slot) -> Vec<OpId> {
        let obj = obj_id(obj);
        let at_heads = self.frontier == self.heads;
        match slot {
            Slot::Map(key) => {
                let all = if at_heads {
                    self.doc.get_all(&obj, key.as_str())
                } else {
                    self.doc.get_all_at(&obj, key.as_str(), &self.frontier)
                };
                all.unwrap_or_default()
                    .iter()
                    .filter_map(|(_, id)| op_id(id))
                    .collect()
            }
            Slot::Elem(elem) => {
                let found = if at_heads {
                    self.doc
                        .values(&obj)
                        .any(|(_, id)| op_id(&id).as_ref() == Some(elem))
                } else {
                    self.doc
                        .values_at(&obj, &self.frontier)
                        .any(|(_, id)| op_id(&id).as_ref() == Some(elem))
                };
                if found {
                    vec![elem.clone()]
                } else {
                    Vec::new()
                }
            }
        }
    }

    /// Whether every op in `pred` is visible at `slot` of `obj` or was written there earlier in the batch.
    fn overwrites(
        &self,
        obj: &ObjectId,
        slot: &Slot,
        pred: &SortedVec<OpId>,
    ) -> Result<bool, InvalidChange> {
        if pred.is_empty() {
            return Ok(true);
        }
        let earlier = self.written.get(&(obj_key(obj), slot.clone()));
        let seen_earlier = |p: &OpId| {
            earlier.is_some_and(|w| w.iter().any(|(id, seq)| id == p && self.saw(id, *seq)))
        };
        let visible = self.visible(obj, slot);
        if pred.iter().all(|p| visible.contains(p) || seen_earlier(p)) {
            Ok(true)
        } else {
            Err(InvalidChange::Reference)
        }
    }

    /// Whether `elem` is an element of the list `obj` this change can see, or one the batch inserted.
    fn is_element(&self, obj: &ObjectId, elem: &OpId) -> bool {
        let slot = Slot::Elem(elem.clone());
        self.written
            .get(&(obj_key(obj), slot.clone()))
            .is_some_and(|w| w.iter().any(|(id, seq)| self.saw(id, *seq)))
            || !self.visible(obj, &slot).is_empty()
    }

    /// Records what an accepted op wrote.
    fn wrote(&mut self, op: &automerge::legacy::Op, id: OpId) {
        let slot = match (&op.key, op.insert) {
            (Key::Map(k), _) => Slot::Map(k.to_string()),
            (Key::Seq(_), true) => Slot::Elem(id.clone()),
            (Key::Seq(ElementId::Id(elem)), false) => Slot::Elem(elem.clone()),
            (Key::Seq(ElementId::Head), false) => return,
        };
        self.written
            .entry((obj_key(&op.obj), slot))
            .or_default()
            .push((id, self.seq));
    }
}
