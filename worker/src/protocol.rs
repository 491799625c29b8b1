//! What the public routes send to a cart's Durable Object. The worker validates and authenticates; the object
//! receives only well-formed commands, on an internal URL no client can reach.

use serde::{Deserialize, Serialize};

/// The internal origin for requests to a cart object.
pub const ORIGIN: &str = "https://cart.internal";
/// Header carrying the cart's public id (the guest cart id, or `me`), echoed in views.
pub const CART_ID_HEADER: &str = "x-cart-id";
/// Header carrying the merge policy of a login merge.
pub const POLICY_HEADER: &str = "x-merge-policy";

/// Internal routes of a cart object (path after [`ORIGIN`]).
pub mod op {
    pub const VIEW: &str = "/view";
    pub const ADD: &str = "/add";
    pub const PATCH: &str = "/patch";
    pub const REMOVE: &str = "/remove";
    pub const SYNC: &str = "/sync";
    pub const SOCKET: &str = "/socket";
    pub const SAVE: &str = "/save";
    pub const MERGE_GUEST: &str = "/merge-guest";
    pub const MARK_MERGED: &str = "/mark-merged";
    pub const STORAGE: &str = "/storage";
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
