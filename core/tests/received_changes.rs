//! What a replica does with changes it receives that break the layout, in the shapes a peer can send them: inside a
//! whole document, and ahead of the dependency they wait for.

mod common;
use automerge::{transaction::Transactable, ActorId, Automerge, ReadDoc, ROOT};
use cart_core::{Cart, InvalidChange, LoadError, SyncState, LAYOUT};
use common::{fork, replica, sync};

/// `cart`'s document with one change by another actor on top, raising the layout register past this code's: a
/// change Automerge accepts and the cart layout refuses.
fn with_newer_layout(cart: &Cart) -> Automerge {
    let mut doc = Automerge::load(&cart.encode())
        .unwrap()
        .with_actor(ActorId::from([0x44; 16]));
    let mut tx = doc.transaction();
    tx.put(ROOT, "layout", LAYOUT + 1).unwrap();
    tx.commit();
    doc
}

/// A change Automerge's encoder builds and no honest replica writes: `actor`'s change `seq`, on `deps`, starting at
/// op `start_op`, putting 3 at `key` of the cart's `base` map over the ops `pred`.
fn forged_put(
    actor: ActorId,
    seq: u64,
    start_op: u64,
    deps: Vec<automerge::ChangeHash>,
    key: &str,
    pred: Vec<automerge::legacy::OpId>,
) -> automerge::Change {
    use automerge::legacy::{Key, ObjectId, Op, OpId, OpType};
    use automerge::{ExpandedChange, ScalarValue};
    let base = ObjectId::Id(OpId(2, ActorId::from(b"edge-cart/schema")));
    automerge::Change::from(ExpandedChange {
        operations: vec![Op {
            action: OpType::Put(ScalarValue::Uint(3)),
            obj: base,
            key: Key::Map(key.into()),
            insert: false,
            pred: pred.into(),
        }],
        actor_id: actor,
        hash: None,
        seq,
        start_op: std::num::NonZeroU64::new(start_op).expect("op counters start at 1"),
        time: 0,
        message: None,
        deps,
        extra_bytes: Vec::new(),
        author: None,
    })
}

#[test]
fn a_whole_document_carrying_a_change_that_breaks_the_layout_is_refused_and_changes_nothing() {
    let mut origin = replica(1);
    origin.add("MUG", 1).unwrap();
    let forged = with_newer_layout(&origin).save(); // one document chunk
    let mut target = replica(2);
    target.add("TEE", 2).unwrap();
    let before = target.heads();
    let refused = target.load_incremental(&forged);
    assert!(
        matches!(
            refused,
            Err(LoadError::InvalidChange(InvalidChange::NewerLayout(_)))
        ),
        "{refused:?}"
    );
    assert_eq!(target.heads(), before);
    assert!(!target.needs_upgrade(), "the register was not raised");
}

#[test]
fn a_forged_change_sent_ahead_of_its_dependency_does_not_make_the_dependency_fail() {
    let mut server = replica(1);
    let mut peer = fork(&mut server, 2);
    peer.add("MUG", 1).unwrap(); // the dependency, honest
    let honest = peer.save_incremental();
    let mut doc = Automerge::load(&peer.encode())
        .unwrap()
        .with_actor(ActorId::from([0x44; 16]));
    let heads = doc.get_heads();
    let mut tx = doc.transaction();
    tx.put(ROOT, "layout", LAYOUT + 1).unwrap();
    tx.commit();
    let forged = doc.save_after(&heads); // depends on `honest`
                                         // The forged change arrives first: it cannot apply yet, so it is kept aside, not refused.
    server
        .load_incremental(&forged)
        .expect("a change waiting for its dependency is kept aside");
    assert_eq!(server.view().qty("MUG"), 0);
    // Then the honest change arrives: it applies; the forged one, now checkable, is dropped, not applied.
    server
        .load_incremental(&honest)
        .expect("the honest change is not refused for the forged one's sake");
    assert_eq!(server.view().qty("MUG"), 1);
    assert!(!server.needs_upgrade(), "the forged change never applied");
    assert!(server
        .doc()
        .get_change_by_hash(&doc.get_heads()[0])
        .is_none());
    // And the replica still syncs with honest peers.
    sync(&mut server, &mut peer);
    assert_eq!(server.heads(), peer.heads());
}

#[test]
fn a_change_kept_aside_for_its_dependency_is_asked_for_and_applies_when_the_dependency_comes() {
    let mut a = replica(1);
    let mut b = fork(&mut a, 2);
    b.add("MUG", 1).unwrap();
    let first = b.save_incremental();
    b.add("MUG", 2).unwrap();
    let second = b.save_incremental(); // depends on `first`
    a.load_incremental(&second).expect("kept aside");
    assert_eq!(a.view().qty("MUG"), 0);
    // The sync protocol brings the rest: `a` asks for what the kept change waits for.
    let (mut sa, mut sb) = (SyncState::new(), SyncState::new());
    let message = a.generate_sync_message(&mut sa).expect("a message");
    let decoded = automerge::sync::Message::decode(&message).unwrap();
    let first_hash = Cart::load(&[a.encode(), first.clone()].concat())
        .unwrap()
        .heads();
    assert!(
        first_hash.iter().all(|h| decoded.need.contains(h)),
        "the dependency is asked for"
    );
    b.receive_sync_message(&mut sb, &message).unwrap();
    sync(&mut a, &mut b);
    assert_eq!(a.view().qty("MUG"), 3);
}

#[test]
fn a_change_overwriting_an_op_of_a_concurrent_change_in_the_same_batch_is_refused() {
    let mut origin = replica(1);
    let mut x = fork(&mut origin, 2);
    x.set_quantity("MUG", 5).unwrap();
    let set = x.doc().get_last_local_change().unwrap();
    let mut y = fork(&mut origin, 0x66);
    y.add("TEE", 1).unwrap(); // three ops, so the next change of `y` starts after `set`'s op
    let other = y.doc().get_last_local_change().unwrap();
    // The next change of `y`, concurrent with `set`, whose put names `set`'s op as the one it overwrites.
    let overwritten = automerge::legacy::OpId(set.start_op().get(), x.doc().get_actor().clone());
    let forged = forged_put(
        ActorId::from([0x66; 16]),
        2,
        other.max_op() + 1,
        vec![other.hash()],
        "MUG",
        vec![overwritten],
    );
    let before = origin.heads();
    assert!(
        set.start_op().get() < other.max_op(),
        "the overwritten op precedes the forged change's ops"
    );
    let batch = [set.raw_bytes(), other.raw_bytes(), forged.raw_bytes()].concat();
    let refused = origin.load_incremental(&batch);
    assert!(
        matches!(
            refused,
            Err(LoadError::InvalidChange(InvalidChange::Reference))
        ),
        "{refused:?}"
    );
    assert_eq!(origin.heads(), before);
}

#[test]
fn a_change_that_skips_its_authors_previous_change_in_the_same_batch_is_refused() {
    let mut origin = replica(1);
    let mut x = fork(&mut origin, 2);
    x.set_quantity("MUG", 5).unwrap();
    let first = x.doc().get_last_local_change().unwrap();
    let mut y = fork(&mut origin, 3);
    y.add("TEE", 1).unwrap();
    let other = y.doc().get_last_local_change().unwrap();
    // `x`'s second change, depending on `y`'s change but not on `x`'s first: its clock would claim `first`.
    let forged = forged_put(
        x.doc().get_actor().clone(),
        2,
        other.max_op() + 1,
        vec![other.hash()],
        "CAP",
        Vec::new(),
    );
    let before = origin.heads();
    let batch = [first.raw_bytes(), other.raw_bytes(), forged.raw_bytes()].concat();
    let refused = origin.load_incremental(&batch);
    assert!(
        matches!(
            refused,
            Err(LoadError::InvalidChange(InvalidChange::Sequence { .. }))
        ),
        "{refused:?}"
    );
    assert_eq!(origin.heads(), before);
}
