//! Persistence round trips, and bad bytes: they return Err, never panic, and leave the cart as it was.

mod common;
use cart_core::{Cart, LoadError, SyncState};
use common::{fork, json, replica, sync};
use proptest::prelude::*;

fn sample() -> Cart {
    let mut cart = replica(1);
    for (i, sku) in ["A", "B", "C"].iter().enumerate() {
        cart.add(sku, i as u32 + 1).unwrap();
    }
    cart.set_selected("B", false).unwrap();
    cart
}

#[test]
fn a_saved_cart_loads_to_the_same_view() {
    let mut cart = sample();
    let loaded = Cart::load(&cart.save()).unwrap();
    assert_eq!(json(&loaded), json(&cart));
}

#[test]
fn a_full_save_plus_incremental_saves_load_to_the_same_view_as_a_full_save() {
    let mut cart = replica(1);
    let mut stored = cart.save();
    for i in 0..10 {
        cart.add(&format!("S{i}"), 1).unwrap();
        let inc = cart.save_incremental();
        assert!(!inc.is_empty());
        stored.extend(inc);
    }
    assert!(
        cart.save_incremental().is_empty(),
        "nothing new, nothing saved"
    );
    assert_eq!(
        json(&Cart::load(&stored).unwrap()),
        json(&Cart::load(&cart.save()).unwrap())
    );
}

#[test]
fn empty_bytes_are_not_a_cart() {
    assert!(matches!(Cart::load(&[]), Err(LoadError::NotACart)));
}

#[test]
fn an_automerge_document_that_is_not_a_cart_is_refused() {
    let mut other = automerge::AutoCommit::new();
    assert!(matches!(
        Cart::load(&other.save()),
        Err(LoadError::NotACart)
    ));
}

#[test]
fn a_truncated_incremental_save_applies_nothing() {
    let mut a = sample();
    let mut b = fork(&mut a, 2);
    b.add("X", 1).unwrap();
    b.add("Y", 1).unwrap();
    let mut bytes = b.save_incremental();
    let full_len = bytes.len();
    bytes.truncate(full_len - 3); // the last change is cut short; the first is whole
    let before = json(&a);
    assert!(a.load_incremental(&bytes).is_err());
    assert_eq!(
        json(&a),
        before,
        "not even the whole first change was applied"
    );
}

#[test]
fn a_sync_message_that_does_not_decode_leaves_cart_and_state_unchanged() {
    let mut a = sample();
    let mut state = SyncState::new();
    let before = json(&a);
    assert!(a.receive_sync_message(&mut state, b"\x42garbage").is_err());
    assert_eq!(json(&a), before);
    // The state is still usable: a real peer syncs afterwards.
    let mut b = replica(2);
    sync(&mut a, &mut b);
    assert_eq!(json(&a), json(&b));
}

#[test]
fn a_sync_state_round_trips_and_garbage_is_refused() {
    let mut a = sample();
    let mut b = replica(2);
    let mut sa = SyncState::new();
    let mut sb = SyncState::new();
    while let Some(m) = a.generate_sync_message(&mut sa) {
        b.receive_sync_message(&mut sb, &m).unwrap();
        if let Some(r) = b.generate_sync_message(&mut sb) {
            a.receive_sync_message(&mut sa, &r).unwrap();
        }
    }
    assert!(SyncState::decode(&sa.encode()).is_ok());
    assert!(SyncState::decode(b"\xff\xff").is_err());
}

fn mutations() -> impl Strategy<Value = (usize, u8, usize)> {
    (any::<usize>(), any::<u8>(), 0usize..3)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_bytes_never_load_and_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        prop_assert!(Cart::load(&bytes).is_err());
        let mut cart = sample();
        let before = json(&cart);
        let _ = cart.load_incremental(&bytes);
        let _ = cart.receive_sync_message(&mut SyncState::new(), &bytes);
        // Refused by the checks, not by Automerge panicking behind them (contained, see core/src/unwind.rs).
        prop_assert!(!cart.poisoned());
        prop_assert_eq!(json(&cart), before);
    }

    #[test]
    fn flipped_or_truncated_saves_are_refused_and_leave_the_cart_unchanged((at, bits, kind) in mutations()) {
        let mut source = sample();
        let mut other = fork(&mut source, 2);
        other.add("NEW", 3).unwrap();
        other.remove("A").unwrap();
        let inc = other.save_incremental();
        let full = other.save();
        for original in [inc, full] {
            let mut bytes = original.clone();
            let i = at % bytes.len();
            match kind {
                0 => bytes[i] ^= bits.max(1),
                1 => bytes.truncate(i),
                _ => { bytes.insert(i, bits); }
            }
            let mut cart = sample();
            let before = json(&cart);
            match cart.load_incremental(&bytes) {
                // A mutation can still be a valid encoding (e.g. a truncation at a chunk boundary, or a flip in a
                // compressed but unchecked byte); then what was applied must be whole changes of the original.
                Ok(()) => {
                    let mut reference = sample();
                    reference.load_incremental(&original).unwrap();
                    let v = cart.view();
                    prop_assert!(v.lines.iter().all(|l| reference.view().line(&l.sku).is_some() || sample().view().line(&l.sku).is_some()));
                }
                Err(_) => {
                    prop_assert!(!cart.poisoned());
                    prop_assert_eq!(json(&cart), before);
                }
            }
            prop_assert!(!matches!(Cart::load(&bytes), Err(cart_core::LoadError::Panicked(_))));
        }
    }

    #[test]
    fn flipped_or_truncated_sync_messages_are_refused_or_harmless((at, bits, kind) in mutations()) {
        let mut source = sample();
        let mut peer = replica(3);
        let mut state = SyncState::new();
        // The first message carries heads and a bloom filter; run a round so the second carries changes.
        let first = source.generate_sync_message(&mut state).unwrap();
        let mut pstate = SyncState::new();
        peer.receive_sync_message(&mut pstate, &first).unwrap();
        let reply = peer.generate_sync_message(&mut pstate).unwrap();
        source.receive_sync_message(&mut state, &reply).unwrap();
        let mut msg = source.generate_sync_message(&mut state).unwrap();
        let i = at % msg.len();
        match kind {
            0 => msg[i] ^= bits.max(1),
            1 => msg.truncate(i),
            _ => msg.insert(i, bits),
        }
        let before = json(&peer);
        let mut attempt = pstate.clone();
        match peer.receive_sync_message(&mut attempt, &msg) {
            Err(_) => {
                prop_assert!(!peer.poisoned());
                prop_assert_eq!(json(&peer), before);
            }
            Ok(()) => {
                // Accepted: it must still have been a well-formed message, and the peer converges afterwards.
                sync(&mut peer, &mut source);
                prop_assert_eq!(json(&peer), json(&source));
            }
        }
    }
}

#[test]
fn a_new_cart_is_untouched_until_it_is_edited_or_receives_a_change() {
    let mut cart = replica(1);
    assert!(cart.is_untouched());
    let mut other = replica(2);
    sync(&mut cart, &mut other);
    assert!(
        cart.is_untouched(),
        "syncing with another empty cart brings nothing"
    );
    other.add("MUG", 1).unwrap();
    sync(&mut cart, &mut other);
    assert!(!cart.is_untouched());
    let mut fresh = replica(3);
    fresh.add("TEE", 1).unwrap();
    assert!(!fresh.is_untouched());
}
