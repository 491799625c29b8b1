//! The smallest program that does what the browser library needs Automerge for: load a saved document, apply
//! incremental bytes, edit a map and a list in a transaction, run the sync protocol, save fully and incrementally,
//! and read values back. `make bench-client` builds it with the same profile and flags as the browser library;
//! its size is the floor that no amount of trimming our own code can go below.

use automerge::{
    sync::{self, SyncDoc},
    transaction::Transactable,
    ActorId, Automerge, ObjType, ReadDoc, ROOT,
};
use wasm_bindgen::prelude::*;

/// Exercises every Automerge entry point the cart uses, on bytes from JS so nothing is constant-folded away.
#[wasm_bindgen]
pub fn exercise(saved: &[u8], incoming: &[u8], state: &[u8]) -> Vec<u8> {
    let mut doc = Automerge::load(saved).unwrap_or_else(|_| Automerge::new());
    doc.set_actor(ActorId::random());
    let _ = doc.load_incremental(incoming);
    let mut tx = doc.transaction();
    if let Ok(list) = tx.put_object(ROOT, "list", ObjType::List) {
        let _ = tx.insert(&list, 0, "item");
        let _ = tx.delete(&list, 0);
    }
    let _ = tx.put(ROOT, "n", 3u64);
    tx.commit();
    let mut sync_state = sync::State::decode(state).unwrap_or_default();
    if let Ok(message) = sync::Message::decode(incoming) {
        let _ = doc.receive_sync_message(&mut sync_state, message);
    }
    let mut out = doc
        .generate_sync_message(&mut sync_state)
        .map(|m| m.encode())
        .unwrap_or_default();
    out.extend(doc.save());
    out.extend(doc.save_after(&[]));
    out.extend(sync_state.encode());
    for item in doc.map_range(ROOT, ..) {
        out.extend(item.key.bytes());
    }
    if let Ok(all) = doc.get_all(ROOT, "n") {
        out.push(all.len() as u8);
    }
    out
}
