//! # cart-core
//!
//! The shopping cart of the edge-cart project: its model on an [Automerge](https://automerge.org) document, the
//! operations a shopper performs, the login merge of a guest cart, persistence and the standard Automerge sync
//! protocol. Pure Rust: it knows nothing of JavaScript, LocalStorage or Durable Objects, and builds natively and for
//! `wasm32-unknown-unknown`.
//!
//! ## Semantics
//! Replicas (devices, tabs, the server) edit independently and converge when they sync:
//! - an add is never lost: it shows after sync unless a remove or set that had seen it overrides it;
//! - concurrent adds of one sku sum;
//! - a remove removes only what it had seen, and a removed line never comes back unless added again;
//! - concurrent sets of one line have one deterministic winner; a concurrent add combines with it;
//! - the selection flag is last-writer-wins; new lines start selected;
//! - the login merge keeps every line of both carts; for each guest cart the latest merged state counts once,
//!   wherever and however often it was merged, and a set or remove overrides the merged states it had seen
//!   (README, rule 7).
//!
//! Invalid external input (bytes, skus, quantities) returns `Err` and leaves the cart as it was; only a broken
//! internal invariant may panic.
//!
//! ```
//! use cart_core::Cart;
//! let mut cart = Cart::new();
//! cart.add("TEA-GREEN", 2)?;
//! let view = cart.view();
//! assert_eq!((view.line_count, view.item_count), (1, 2));
//! # Ok::<(), cart_core::EditError>(())
//! ```

mod cart;
mod chunks;
mod guard;
mod limits;
mod merge;
mod ops;
mod raw;
mod records;
mod schema;
pub mod sim;
mod unwind;
mod view;

pub use automerge::{ActorId, ChangeHash};
pub use cart::{
    new_actor, system_clock, Cart, Clock, LoadError, SyncError, SyncState, SyncStateError,
};
pub use guard::InvalidChange;
pub use limits::{validate_sku, SkuError, MAX_LINES, MAX_QTY, MAX_SKU_LEN};
pub use merge::{MergeError, MergePolicy, MergeReport, UnknownPolicy};
pub use ops::{BatchError, EditError, Op, OpJson, Quantity, MAX_OPS};
pub use schema::{LAYOUT, SCHEMA_VERSION};
pub use unwind::Panicked;
pub use view::{CartView, Line};
