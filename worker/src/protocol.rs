//! What the public routes send to a cart's Durable Object. The worker validates and authenticates; the object
//! receives only well-formed commands, on an internal URL no client can reach.

use serde::{Deserialize, Serialize};

/// The internal origin for requests to a cart object.
pub const ORIGIN: &str = "https://cart.internal";
/// Header carrying the cart's public id (the guest cart id, or `me`), echoed in views.
pub const CART_ID_HEADER: &str = "x-cart-id";
/// Header carrying the merge policy of a login merge.
pub const POLICY_HEADER: &str = "x-merge-policy";
/// Header naming what is merged: the guest cart id, or `share:<token>`. A merge is identified by it and the
/// source's state, so the browser's offline merge of a guest cart and the server's count once.
pub const SOURCE_HEADER: &str = "x-merge-source";
/// Header carrying what the object holds: `guest`, `user` or `share` (it decides the idle expiry).
pub const KIND_HEADER: &str = "x-cart-kind";
/// Header carrying the client's `Idempotency-Key` of a write.
pub const IDEMPOTENCY_KEY_HEADER: &str = "x-idempotency-key";
/// Header carrying what the keyed request was (SHA-256 of method, route and body, in hex).
pub const FINGERPRINT_HEADER: &str = "x-idempotency-fingerprint";
/// Header carrying a checkout id to look up.
pub const CHECKOUT_ID_HEADER: &str = "x-checkout-id";

/// Internal routes of a cart object (path after [`ORIGIN`]).
pub mod op {
    pub const VIEW: &str = "/view";
    pub const ADD: &str = "/add";
    pub const PATCH: &str = "/patch";
    pub const REMOVE: &str = "/remove";
    /// A batch: the client's `{"ops": [...]}` body, already checked by `input::ops`.
    pub const OPS: &str = "/ops";
    pub const SYNC: &str = "/sync";
    pub const SOCKET: &str = "/socket";
    pub const SAVE: &str = "/save";
    pub const MERGE_GUEST: &str = "/merge-guest";
    pub const MARK_MERGED: &str = "/mark-merged";
    #[cfg(feature = "dev")]
    pub const STORAGE: &str = "/storage";
    /// Freeze a checkout snapshot (idempotent by key).
    pub const CHECKOUT: &str = "/checkout";
    /// Read a stored checkout snapshot by id.
    pub const CHECKOUT_GET: &str = "/checkout-get";
    /// Fill a share object with a copy of a cart (once).
    pub const SHARE_PUT: &str = "/share-put";
    /// The shared cart's view, or 404 when there is no such share.
    pub const SHARED_VIEW: &str = "/shared-view";
    /// The shared cart's bytes, or 404 when there is no such share.
    pub const SHARED_SAVE: &str = "/shared-save";
    /// Dev only: answer at once, touching nothing (the round-trip floor for benchmarks).
    #[cfg(feature = "dev")]
    pub const NOOP: &str = "/noop";
    /// Dev only: apply `edits` storefront-like edits, each written like a real one (for benchmarks).
    #[cfg(feature = "dev")]
    pub const SEED: &str = "/seed";
    /// Dev only: write one small row to SQLite and answer (the floor of any durable write, for benchmarks).
    #[cfg(feature = "dev")]
    pub const NOOP_WRITE: &str = "/noop-write";
    /// Dev only: drop the loaded cart, so the next command loads it from storage again (cold-load benchmark).
    #[cfg(feature = "dev")]
    pub const EVICT: &str = "/evict";
    /// Dev only: a sync message applied without the checks in front of Automerge (fault injection).
    #[cfg(feature = "dev")]
    pub const SYNC_UNCHECKED: &str = "/sync-unchecked";
    /// Dev only: panic in the object's own code (fault injection).
    #[cfg(feature = "dev")]
    pub const PANIC: &str = "/panic";
    /// Dev only: the Nth storage statement of the next command fails (fault injection).
    #[cfg(feature = "dev")]
    pub const FAIL: &str = "/fail";
}

/// `POST /add`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Add {
    pub sku: String,
    pub qty: u32,
}

/// `POST /patch`: set quantity and/or selection.
#[derive(Debug, Serialize, Deserialize)]
pub struct Patch {
    pub sku: String,
    pub qty: Option<u32>,
    pub selected: Option<bool>,
}

/// `POST /remove`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Remove {
    pub sku: String,
}

/// `POST /checkout`: store `snapshot` under `key` if the cart is still at `version`, and optionally remove the
/// checked-out lines, in one atomic write. An existing `key` answers its stored snapshot instead.
#[derive(Debug, Serialize, Deserialize)]
pub struct Checkout {
    pub key: String,
    pub id: String,
    pub version: String,
    pub snapshot: serde_json::Value,
    pub remove: Vec<String>,
}

/// `POST /fail` (dev only): which storage statement from now fails, from 1 (0 disarms).
#[cfg(feature = "dev")]
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fail {
    pub statement: u32,
}

/// `POST /noop-write` (dev only): the durable no-op, answering `bytes` bytes of JSON (none when 0), so the benchmark
/// can tell a reply body's transport from the work behind it.
#[cfg(feature = "dev")]
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct NoopWrite {
    #[serde(default)]
    pub bytes: u32,
}

/// `POST /seed` (dev only).
#[cfg(feature = "dev")]
#[derive(Debug, Serialize, Deserialize)]
pub struct Seed {
    pub edits: u32,
}
