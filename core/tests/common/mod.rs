//! Helpers shared by the integration tests: replicas with fixed actors, and syncing them.
#![allow(dead_code)]

use cart_core::{ActorId, Cart, SyncState};

/// A fresh, empty cart whose edits carry actor `n`.
pub fn replica(n: u8) -> Cart {
    let mut cart = Cart::with_actor(ActorId::from([n; 16]));
    cart.set_clock(|| 1_700_000_000_000);
    cart
}

/// A replica of `from`'s cart (same history) whose own edits carry actor `n`.
pub fn fork(from: &mut Cart, n: u8) -> Cart {
    let mut cart = Cart::load(&from.save()).expect("a saved cart loads");
    cart.set_actor(ActorId::from([n; 16]));
    cart.set_clock(|| 1_700_000_000_000);
    cart
}

/// Brings `a` and `b` to the same state with the Automerge sync protocol, as two peers on a socket would.
pub fn sync(a: &mut Cart, b: &mut Cart) {
    let (mut sa, mut sb) = (SyncState::new(), SyncState::new());
    for _ in 0..32 {
        let mut quiet = true;
        if let Some(m) = a.generate_sync_message(&mut sa) {
            b.receive_sync_message(&mut sb, &m)
                .expect("b accepts a's message");
            quiet = false;
        }
        if let Some(m) = b.generate_sync_message(&mut sb) {
            a.receive_sync_message(&mut sa, &m)
                .expect("a accepts b's message");
            quiet = false;
        }
        if quiet {
            assert_eq!(a.heads(), b.heads(), "sync settled without converging");
            return;
        }
    }
    panic!("sync did not settle in 32 rounds");
}

/// The view as JSON, to compare replicas byte for byte.
pub fn json(cart: &Cart) -> String {
    serde_json::to_string(&cart.view()).expect("views serialise")
}
