//! The cart object's part of checkout and share links: storing what the worker front end prepared, atomically
//! and idempotently. Prices and availability come from the catalog, which the front end reads.

use worker::Response;

use super::idempotency::json_response;
use super::CartObject;
use crate::error::{ApiError, ApiResult};
use crate::protocol;

impl CartObject {
    /// Stores a checkout snapshot under its idempotency key, unless the key has one already (then that one is the
    /// answer, 200) or the cart moved past the version the snapshot was priced at (409: the front end retries).
    /// The snapshot row and the removal of its lines are one storage transaction.
    pub(super) fn checkout(&self, cmd: &protocol::Checkout) -> ApiResult<Response> {
        if let Some(stored) = self.with_live(|live| live.store.checkout_by_key(&cmd.key))? {
            return json_response(200, stored);
        }
        if cmd.snapshot.is_null() {
            // A lookup only: no checkout under this key yet.
            return Err(ApiError::new(
                404,
                "CHECKOUT_NOT_FOUND",
                "no checkout under this key yet",
            ));
        }
        let version = self.with_live(|live| Ok(live.cart.view().version_tag()))?;
        if version != cmd.version {
            return Err(ApiError::new(
                409,
                "CART_CHANGED",
                "the cart changed while the checkout was priced; retry",
            ));
        }
        let snapshot = serde_json::to_string(&cmd.snapshot)
            .map_err(|e| ApiError::internal("checkout snapshot", e))?;
        // The snapshot row and the removal of its lines: one transaction, stored together or not at all.
        let stored = self.transaction(|| {
            self.with_live(|live| live.store.insert_checkout(&cmd.key, &cmd.id, &snapshot))?;
            if cmd.remove.is_empty() {
                return Ok(false);
            }
            Ok(self
                .apply(|cart| {
                    for sku in &cmd.remove {
                        cart.remove(sku)?;
                    }
                    Ok(())
                })?
                .1)
        });
        let removed = match stored {
            Ok(removed) => removed,
            Err(e) => {
                // The lines may be gone from the cart in memory while storage kept them: load it again.
                *self.live.borrow_mut() = None;
                return Err(e);
            }
        };
        self.dirty.set(true);
        if removed && !super::txn::defer_push() {
            self.push_all();
        }
        json_response(201, snapshot)
    }

    pub(super) fn checkout_get(&self, id: &str) -> ApiResult<Response> {
        match self.with_live(|live| live.store.checkout_by_id(id))? {
            Some(stored) => json_response(200, stored),
            None => Err(ApiError::new(
                404,
                "CHECKOUT_NOT_FOUND",
                "no checkout with this id in this cart",
            )),
        }
    }

    /// Fills this (share) object with a copy of a cart, once. A share is never edited afterwards: the public
    /// routes reach share objects only to read them or copy from them.
    pub(super) fn share_put(&self, bytes: &[u8]) -> ApiResult<Response> {
        let source =
            cart_core::Cart::load(bytes).map_err(|e| ApiError::internal("shared cart bytes", e))?;
        if source.view().lines.is_empty() {
            return Err(ApiError::new(422, "NOTHING_TO_SHARE", "the cart is empty"));
        }
        if self.with_live(|live| Ok(live.meta.touched_at.is_some()))? {
            return Err(ApiError::new(
                409,
                "SHARE_EXISTS",
                "this share link is taken",
            ));
        }
        self.edit(|cart| {
            cart.merge(&source)
                .map_err(|e| ApiError::internal("share copy", e))
        })?;
        self.view("shared").map(|r| r.with_status(201))
    }

    /// 404 unless this object holds a share.
    pub(super) fn shared_exists(&self) -> ApiResult<()> {
        if self.with_live(|live| Ok(live.meta.touched_at.is_some()))? {
            Ok(())
        } else {
            Err(ApiError::new(
                404,
                "SHARE_NOT_FOUND",
                "no such share link (or it expired)",
            ))
        }
    }
}
