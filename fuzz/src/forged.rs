//! Structure-aware fuzzing of what a peer can send: Automerge changes that decode, with valid checksums and
//! hashes, built from an arbitrary recipe of header fields and ops.
//!
//! Byte-level targets almost never produce a change whose checksum holds, so they never reach Automerge's op
//! import; an attacker builds such changes with Automerge itself (decode a real change, edit the expanded form,
//! encode it again). The recipe draws every field from pools of values that matter: the document's real object
//! and op ids next to missing ones, the cart's keys next to foreign ones, every action and value type, honest and
//! forged sequence numbers, start ops and dependencies. Each forged change (or pair, the second depending on the
//! first) is delivered the three ways outside bytes reach a cart: `load_incremental` (another tab's save, stored
//! increments), a sync message (an HTTP sync body or a WebSocket frame), and `Cart::load` of a save followed by
//! the change (a stored cart, a guest cart in a login merge).

use arbitrary::{Arbitrary, Unstructured};
use automerge::legacy::{ElementId, Key, MarkData, ObjectId, Op, OpId, OpType};
use automerge::{sync, ActorId, Change, ChangeHash, ExpandedChange, ObjType, ScalarValue};

use cart_core::{Cart, SyncState};

use crate::{check_view, exercise, give_back, take_sample};

/// The genesis actor of every cart (`core/src/schema.rs`), whose ops 2..=7 are the cart's containers.
const GENESIS_ACTOR: &[u8; 16] = b"edge-cart/schema";

/// One forged change: who claims to write it, where it sits in their history, and its ops.
#[derive(Debug, Arbitrary)]
struct Forged {
    author: Author,
    seq: Seq,
    start_op: StartOp,
    deps: Deps,
    ops: Vec<ForgedOp>,
}

#[derive(Debug, Arbitrary)]
enum Author {
    /// An actor nobody has seen, as a new replica or an attacker is.
    Fresh,
    /// The sample cart's own actor.
    Sample,
    /// The genesis actor.
    Genesis,
}

#[derive(Debug, Arbitrary)]
enum Seq {
    Next,
    Reused,
    Gap(u8),
    Huge,
}

#[derive(Debug, Arbitrary)]
enum StartOp {
    Next,
    Low(u8),
    Huge,
}

#[derive(Debug, Arbitrary)]
enum Deps {
    Heads,
    None,
    Genesis,
    Missing,
    /// The first forged change of the pair (for the second one).
    Previous,
}

#[derive(Debug, Arbitrary)]
struct ForgedOp {
    obj: Obj,
    key: KeyPick,
    action: Action,
    insert: bool,
    pred: Vec<Id>,
}

#[derive(Debug, Arbitrary)]
enum Obj {
    Root,
    /// One of the genesis containers, by index (0..6; larger ones are ids the genesis never made).
    Container(u8),
    /// An op id from the pool (a real op that is not an object, or a missing one).
    Id(Id),
}

#[derive(Debug, Arbitrary)]
enum Id {
    /// An op of the document, by index into its ops.
    Existing(u8),
    /// An op this change makes, by index.
    Own(u8),
    /// An id nobody made, of a known actor.
    Missing(u16),
}

#[derive(Debug, Arbitrary)]
enum KeyPick {
    Map(MapKey),
    Head,
    Element(Id),
}

#[derive(Debug, Arbitrary)]
enum MapKey {
    Sku,
    OtherSku,
    Empty,
    Container,
    MergeKey,
    Weird,
}

#[derive(Debug, Arbitrary)]
enum Action {
    Make(u8),
    Delete,
    Increment(i8),
    Put(Value),
    MarkBegin(bool),
    MarkEnd(bool),
}

#[derive(Debug, Arbitrary)]
enum Value {
    Uint(u64),
    Int(i64),
    Str(StrPick),
    Boolean(bool),
    Timestamp(i64),
    Counter(i8),
    F64(u8),
    Null,
    Bytes(u8),
}

#[derive(Debug, Arbitrary)]
enum StrPick {
    Add,
    AddN,
    Heads,
    Junk,
}

#[derive(Debug, Arbitrary)]
enum Delivery {
    LoadIncremental,
    Sync,
    SyncAfterHello,
    Load,
}

#[derive(Debug, Arbitrary)]
struct Recipe {
    first: Forged,
    second: Option<Forged>,
    delivery: Delivery,
}

/// Seeded recipe bytes (xorshift64*, 16-215 bytes), for runs of this target without libFuzzer: the smoke test in
/// `make test` and `examples/automerge_panics.rs` use the same seeds.
pub fn recipe_bytes(seed: u64) -> Vec<u8> {
    let len = 16 + (seed % 200) as usize;
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

/// The sample cart's save and the encoded changes `data`'s recipe forges against it, for reproducing what the
/// target finds against Automerge alone (`examples/automerge_panics.rs`).
pub fn forged_bytes(data: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let recipe = Recipe::arbitrary(&mut Unstructured::new(data)).ok()?;
    let cart = take_sample();
    let changes = build(&cart, &recipe);
    let save = cart.encode();
    give_back(cart);
    Some((
        save,
        changes
            .iter()
            .flat_map(|c| c.raw_bytes().to_vec())
            .collect(),
    ))
}

/// The recipe `data` decodes to, for debugging a failure.
pub fn describe(data: &[u8]) -> String {
    format!("{:#?}", Recipe::arbitrary(&mut Unstructured::new(data)))
}

/// The forged-change target: builds the recipe's changes and delivers them; a refused delivery must leave the
/// cart (and the sync state) as they were, an accepted one a cart that still works.
pub fn forged_change(data: &[u8]) {
    let Ok(recipe) = Recipe::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    let mut cart = take_sample();
    let changes = build(&cart, &recipe);
    let bytes: Vec<u8> = changes
        .iter()
        .flat_map(|c| c.raw_bytes().to_vec())
        .collect();
    match recipe.delivery {
        Delivery::LoadIncremental => {
            let before = cart.view();
            match cart.load_incremental(&bytes) {
                Ok(()) => exercise(&mut cart),
                Err(e) => {
                    crate::not_contained(&cart, &e);
                    assert_eq!(cart.view(), before, "a refused load changed the cart");
                    give_back(cart);
                }
            }
        }
        Delivery::Sync | Delivery::SyncAfterHello => {
            let mut state = SyncState::new();
            if matches!(recipe.delivery, Delivery::SyncAfterHello) {
                let _ = cart.generate_sync_message(&mut state);
            }
            let message = sync::Message {
                heads: {
                    let mut heads: Vec<ChangeHash> = changes.iter().map(Change::hash).collect();
                    heads.sort();
                    heads
                },
                need: Vec::new(),
                have: Vec::new(),
                changes: changes
                    .iter()
                    .map(|c| c.raw_bytes().to_vec())
                    .collect::<Vec<_>>()
                    .into(),
                flags: None,
                version: sync::MessageVersion::V1,
            }
            .encode();
            let before = (cart.view(), state.encode());
            match cart.receive_sync_message(&mut state, &message) {
                Ok(()) => {
                    check_view(&cart.view());
                    let _ = cart.generate_sync_message(&mut state);
                    exercise(&mut cart);
                }
                Err(e) => {
                    crate::not_contained(&cart, &e);
                    assert_eq!(
                        (cart.view(), state.encode()),
                        before,
                        "a refused message changed the cart or the session"
                    );
                    give_back(cart);
                }
            }
        }
        Delivery::Load => {
            let mut stored = cart.encode();
            give_back(cart);
            stored.extend(&bytes);
            if let Some(mut loaded) = crate::load_not_contained(&stored) {
                exercise(&mut loaded);
            }
        }
    }
}

/// The pools a recipe picks from, read from the sample cart.
struct Pools {
    /// Every op id of the document (object or not), in change order.
    ops: Vec<OpId>,
    heads: Vec<ChangeHash>,
    genesis: ChangeHash,
    sample_actor: ActorId,
    /// The sample actor's last seq and the document's largest op counter.
    sample_seq: u64,
    max_op: u64,
    /// The text of a real add element and a real merge-heads value.
    heads_text: String,
}

fn pools(cart: &Cart) -> Pools {
    let doc = cart.doc();
    let mut ops = Vec::new();
    let mut genesis = None;
    let mut sample_seq = 0;
    let mut max_op = 0;
    let sample_actor = doc.get_actor().clone();
    for change in doc.get_changes(&[]) {
        if genesis.is_none() {
            genesis = Some(change.hash());
        }
        let start = change.start_op().get();
        for i in 0..change.len() as u64 {
            ops.push(OpId(start + i, change.actor_id().clone()));
        }
        max_op = max_op.max(change.max_op());
        if *change.actor_id() == sample_actor {
            sample_seq = sample_seq.max(change.seq());
        }
    }
    let heads = doc.get_heads();
    Pools {
        ops,
        genesis: genesis.unwrap_or_else(|| heads[0]),
        heads_text: heads
            .iter()
            .map(|h| h.to_string())
            .collect::<Vec<_>>()
            .join(","),
        heads,
        sample_actor,
        sample_seq,
        max_op,
    }
}

fn build(cart: &Cart, recipe: &Recipe) -> Vec<Change> {
    let pools = pools(cart);
    let first = forge(&pools, &recipe.first, None);
    let mut out = vec![first];
    if let Some(second) = &recipe.second {
        let next = forge(&pools, second, Some(&out[0]));
        out.push(next);
    }
    out
}

fn forge(p: &Pools, f: &Forged, previous: Option<&Change>) -> Change {
    let actor = match f.author {
        Author::Fresh => match previous {
            Some(prev) if matches!(f.deps, Deps::Previous) => prev.actor_id().clone(),
            _ => ActorId::from([0xf0u8; 8]),
        },
        Author::Sample => p.sample_actor.clone(),
        Author::Genesis => ActorId::from(GENESIS_ACTOR),
    };
    let known_seq = match (&f.author, previous) {
        (_, Some(prev)) if *prev.actor_id() == actor => prev.seq(),
        (Author::Sample, _) => p.sample_seq,
        (Author::Genesis, _) => 1,
        (Author::Fresh, _) => 0,
    };
    let seq = match f.seq {
        Seq::Next => known_seq + 1,
        Seq::Reused => known_seq.max(1),
        Seq::Gap(n) => known_seq + 2 + u64::from(n),
        Seq::Huge => u64::from(u32::MAX),
    };
    let max_op = previous.map_or(p.max_op, |c| c.max_op().max(p.max_op));
    let start_op = match f.start_op {
        StartOp::Next => max_op + 1,
        StartOp::Low(n) => u64::from(n).max(1),
        StartOp::Huge => u64::from(u32::MAX),
    };
    let deps = match (&f.deps, previous) {
        (Deps::Heads, _) => p.heads.clone(),
        (Deps::None, _) => Vec::new(),
        (Deps::Genesis, _) => vec![p.genesis],
        (Deps::Missing, _) => vec![ChangeHash([0x42; 32])],
        (Deps::Previous, Some(prev)) => vec![prev.hash()],
        (Deps::Previous, None) => p.heads.clone(),
    };
    let id = |pick: &Id| -> OpId {
        match pick {
            Id::Existing(i) if !p.ops.is_empty() => p.ops[usize::from(*i) % p.ops.len()].clone(),
            Id::Own(i) => OpId(start_op + u64::from(*i % 8), actor.clone()),
            Id::Existing(_) | Id::Missing(_) => {
                let n = match pick {
                    Id::Missing(n) => u64::from(*n),
                    _ => 0,
                };
                OpId(max_op + 1000 + n, p.sample_actor.clone())
            }
        }
    };
    let genesis_actor = ActorId::from(GENESIS_ACTOR);
    let operations = f
        .ops
        .iter()
        .take(8)
        .map(|op| Op {
            obj: match &op.obj {
                Obj::Root => ObjectId::Root,
                Obj::Container(i) => {
                    ObjectId::Id(OpId(2 + u64::from(*i % 8), genesis_actor.clone()))
                }
                Obj::Id(pick) => ObjectId::Id(id(pick)),
            },
            key: match &op.key {
                KeyPick::Map(k) => Key::Map(
                    match k {
                        MapKey::Sku => "MUG-1",
                        MapKey::OtherSku => "NEW-SKU",
                        MapKey::Empty => "",
                        MapKey::Container => "base",
                        MapKey::MergeKey => "MUG-1/0123456789ab",
                        MapKey::Weird => "a b/c\u{0}",
                    }
                    .into(),
                ),
                KeyPick::Head => Key::Seq(ElementId::Head),
                KeyPick::Element(pick) => Key::Seq(ElementId::Id(id(pick))),
            },
            action: match &op.action {
                Action::Make(t) => OpType::Make(match t % 4 {
                    0 => ObjType::Map,
                    1 => ObjType::List,
                    2 => ObjType::Text,
                    _ => ObjType::Table,
                }),
                Action::Delete => OpType::Delete,
                Action::Increment(n) => OpType::Increment(i64::from(*n)),
                Action::Put(v) => OpType::Put(scalar(v, &p.heads_text)),
                Action::MarkBegin(expand) => OpType::MarkBegin(MarkData {
                    name: "bold".into(),
                    value: ScalarValue::Boolean(true),
                    expand: *expand,
                }),
                Action::MarkEnd(expand) => OpType::MarkEnd(*expand),
            },
            insert: op.insert,
            pred: op.pred.iter().take(3).map(&id).collect::<Vec<_>>().into(),
        })
        .collect();
    Change::from(ExpandedChange {
        operations,
        actor_id: actor,
        hash: None,
        seq,
        start_op: std::num::NonZeroU64::new(start_op).unwrap_or(std::num::NonZeroU64::MIN),
        time: 0,
        message: None,
        deps,
        extra_bytes: Vec::new(),
        author: None,
    })
}

fn scalar(v: &Value, heads_text: &str) -> ScalarValue {
    match v {
        Value::Uint(n) => ScalarValue::Uint(*n),
        Value::Int(n) => ScalarValue::Int(*n),
        Value::Str(s) => ScalarValue::Str(
            match s {
                StrPick::Add => "MUG-1",
                StrPick::AddN => "3 CAP",
                StrPick::Heads => heads_text,
                StrPick::Junk => "\u{1f}\u{0}junk",
            }
            .into(),
        ),
        Value::Boolean(b) => ScalarValue::Boolean(*b),
        Value::Timestamp(t) => ScalarValue::Timestamp(*t),
        Value::Counter(n) => ScalarValue::counter(i64::from(*n)),
        Value::F64(n) => ScalarValue::F64(f64::from(*n) / 3.0),
        Value::Null => ScalarValue::Null,
        Value::Bytes(n) => ScalarValue::Bytes(vec![*n; usize::from(*n % 5)]),
    }
}
