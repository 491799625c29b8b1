//! # cart-client
//!
//! The browser library of edge-cart: `CartClient`, an offline-first cart bound to LocalStorage that syncs with the
//! worker over the Automerge sync protocol. Glue only: every cart rule lives in `cart-core`.
//!
//! - `client.rs`: the `CartClient` class, events, login/logout. `tabs.rs`: other tabs' writes to LocalStorage.
//! - `sync.rs`: WebSocket sync with reconnect and backoff; HTTP exchanges where sockets are unavailable.
//! - `session.rs`: who is shopping and their replica in storage. `store.rs`: LocalStorage, failures as values.
//! - `stored.rs`: reading stored data back, pure (fuzzed natively from `fuzz/`). `persist.rs`: what storage holds
//!   of the active cart, so an edit appends its change instead of re-saving the document (pure).
//! - `types.rs`: the TypeScript declarations of the package's objects.
//! - `view.rs`: the frozen view snapshots, built once per state.
//! - `commerce.rs`: the server's priced view, checkout and share links, asked for over HTTP.
//! - `error.rs`: `CartError` objects with a stable `code`. `js.rs`: host access through `globalThis`.

mod client;
mod commerce;
mod error;
mod js;
pub mod persist;
pub mod session;
mod store;
pub mod stored;
mod sync;
mod tabs;
mod types;
mod view;

pub use client::CartClient;

use wasm_bindgen::prelude::*;

/// Checks a sku against the cart's rules; returns the reason it is refused, or `undefined` when it is valid.
#[wasm_bindgen(js_name = skuProblem)]
pub fn sku_problem(sku: &str) -> Option<String> {
    cart_core::validate_sku(sku).err().map(|e| e.to_string())
}
