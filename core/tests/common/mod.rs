//! Helpers shared by the integration tests: replicas with fixed actors, and syncing them.
#![allow(dead_code)]

use automerge::{transaction::Transactable, Automerge, ReadDoc, ROOT};
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

/// A set as the layout before 2026-12-01 wrote it: delete every add of the sku it saw, then `base[sku] = n`.
/// The change carries actor `actor`, so which concurrent set wins is fixed.
pub fn old_layout_set(cart: &mut Cart, actor: u8, sku: &str, n: u64) {
    let mut doc = Automerge::load(&cart.encode())
        .unwrap()
        .with_actor(ActorId::from([actor; 16]));
    let (_, adds) = doc.get(ROOT, "adds").unwrap().unwrap();
    let (_, base) = doc.get(ROOT, "base").unwrap().unwrap();
    let seen: Vec<usize> = doc
        .values(&adds)
        .enumerate()
        .filter(|(_, (v, _))| {
            v.as_str()
                .is_some_and(|s| s.rsplit(' ').next() == Some(sku))
        })
        .map(|(i, _)| i)
        .collect();
    let heads = doc.get_heads();
    let mut tx = doc.transaction();
    for i in seen.into_iter().rev() {
        tx.delete(&adds, i).unwrap();
    }
    tx.put(&base, sku, n).unwrap();
    tx.commit();
    cart.load_incremental(&doc.save_after(&heads)).unwrap();
}
