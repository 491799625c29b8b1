//! Defence in depth around Automerge: each call that feeds it bytes from outside runs under `catch_unwind`.
//!
//! The guard (`guard.rs`) refuses, before Automerge sees it, every change the cart layout does not allow, and with
//! it every Automerge panic the fuzzers found. Should an unknown one remain, it must not trap the host: on the edge
//! a trap resets the Worker's whole wasm instance (every cart object in the isolate), in the browser it kills the
//! library. The shipped wasm is built with panic=unwind (`scripts/versions.sh`), so such a panic unwinds to here
//! and becomes [`Panicked`], an error like any refused input. What it had half-done is never kept: either the call
//! worked on a copy (loads), or the cart is marked poisoned ([`crate::Cart::poisoned`]) and the host replaces it
//! with the copy in its storage, which never saw the input.
//!
//! Natively, tests unwind as well; under panic=abort (the release and bench profiles) this is a plain call.

use std::panic::{catch_unwind, AssertUnwindSafe};

use thiserror::Error;

/// Automerge panicked on input from outside; nothing of that input is kept.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("Automerge panicked on this input ({0}); nothing of it was kept")]
pub struct Panicked(pub String);

/// Runs `f`; a panic inside it becomes [`Panicked`], with the panic's message.
pub(crate) fn contain<T>(f: impl FnOnce() -> T) -> Result<T, Panicked> {
    // Unwind safety is asserted: whatever `f` had changed is dropped (a copy) or replaced (a poisoned cart).
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned());
        Panicked(message)
    })
}

#[cfg(test)]
mod tests {
    use automerge::legacy::{Key, ObjectId, Op, OpId, OpType};
    use automerge::sync;
    use automerge::{ActorId, ExpandedChange, ScalarValue};

    use crate::{Cart, SyncError, SyncState};

    /// A sync message with one checksum-valid change that puts into an object nobody created: Automerge 0.12
    /// panics on it ("Missing from Index").
    fn message_naming_a_missing_object(cart: &Cart) -> Vec<u8> {
        let actor = ActorId::from(b"forger-forger-00");
        let change = automerge::Change::from(ExpandedChange {
            operations: vec![Op {
                action: OpType::Put(ScalarValue::Uint(1)),
                obj: ObjectId::Id(OpId(999, actor.clone())),
                key: Key::Map("EVIL".into()),
                insert: false,
                pred: Vec::new().into(),
            }],
            actor_id: actor,
            hash: None,
            seq: 1,
            start_op: std::num::NonZeroU64::new(1000).expect("not zero"),
            time: 0,
            message: None,
            deps: cart.heads(),
            extra_bytes: Vec::new(),
            author: None,
        });
        // An honest first message, carrying the forged change.
        let honest = Cart::with_actor(ActorId::from(b"honest-honest-00"))
            .generate_sync_message(&mut SyncState::new())
            .expect("a first message");
        let mut message = sync::Message::decode(&honest).expect("decodes");
        message.heads = vec![change.hash()];
        message.changes = sync::ChunkList::from(vec![change.raw_bytes().to_vec()]);
        message.encode()
    }

    fn cart_with_a_mug() -> Cart {
        let mut cart = Cart::with_actor(ActorId::from(b"replica-replica1"));
        cart.add("MUG", 2).expect("a valid add");
        cart
    }

    #[test]
    fn a_panic_inside_automerge_becomes_an_error_that_poisons_the_cart_instead_of_unwinding_to_the_host(
    ) {
        let mut cart = cart_with_a_mug();
        let message = message_naming_a_missing_object(&cart);
        let mut state = SyncState::new();
        let answer = cart.receive_sync_message_unchecked(&mut state, &message);
        match answer {
            Err(SyncError::Panicked(p)) => assert!(p.0.contains("Missing from Index"), "{p}"),
            other => panic!("expected a contained panic, got {other:?}"),
        }
        assert!(cart.poisoned(), "the host is told to reload the cart");
        assert!(state.peer_heads().is_none(), "the sync state is unchanged");
    }

    #[test]
    fn the_same_forged_change_through_the_checked_path_is_refused_before_automerge_and_poisons_nothing(
    ) {
        let mut cart = cart_with_a_mug();
        let before = cart.heads();
        let message = message_naming_a_missing_object(&cart);
        let answer = cart.receive_sync_message(&mut SyncState::new(), &message);
        assert!(
            matches!(answer, Err(SyncError::InvalidChange(_))),
            "{answer:?}"
        );
        assert!(!cart.poisoned());
        assert_eq!(cart.heads(), before);
        assert_eq!(cart.view().qty("MUG"), 2);
    }

    #[test]
    fn a_poisoned_cart_reloaded_from_its_saved_bytes_is_the_cart_before_the_input() {
        let mut cart = cart_with_a_mug();
        let saved = cart.save();
        let message = message_naming_a_missing_object(&cart);
        let _ = cart.receive_sync_message_unchecked(&mut SyncState::new(), &message);
        assert!(cart.poisoned());
        let reloaded = Cart::load(&saved).expect("storage never saw the input");
        assert!(!reloaded.poisoned());
        assert_eq!(reloaded.view().qty("MUG"), 2);
        assert_eq!(reloaded.heads(), Cart::load(&saved).expect("loads").heads());
    }

    #[test]
    fn a_panic_message_of_either_payload_type_is_kept() {
        assert_eq!(super::contain(|| panic!("plain")).unwrap_err().0, "plain");
        let n = 3;
        assert_eq!(
            super::contain(|| panic!("formatted {n}")).unwrap_err().0,
            "formatted 3"
        );
        assert_eq!(super::contain(|| 5).expect("no panic"), 5);
    }
}
