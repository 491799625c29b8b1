//! `Idempotency-Key` on the JSON writes (lines, merge, copy): a retry with the same key and request gets the
//! stored answer and applies nothing again; the same key with another request is `422 IDEMPOTENCY_KEY_REUSED`.
//! The answer is stored in the same transaction as the write, so either both are durable or neither is. A cart
//! keeps its keys for 24 hours, at most the newest 200 (`store::IDEMPOTENCY_*`).

use worker::{Request, Response};

use super::{now_ms, CartObject};
use crate::error::{ApiError, ApiResult};
use crate::protocol;
use crate::store::Idempotent;

impl CartObject {
    /// Runs the write `run` (its answer: status and JSON text) once per idempotency key, if the request has one.
    pub(super) fn keyed(
        &self,
        req: &Request,
        run: impl FnOnce() -> ApiResult<(u16, String)>,
    ) -> ApiResult<Response> {
        let Some(key) = req.headers().get(protocol::IDEMPOTENCY_KEY_HEADER)? else {
            let (status, body) = run()?;
            return json_response(status, body);
        };
        let fingerprint = req
            .headers()
            .get(protocol::FINGERPRINT_HEADER)?
            .unwrap_or_default();
        let now = now_ms();
        if let Some(stored) = self.with_live(|live| live.store.idempotent(&key, now))? {
            if stored.fingerprint != fingerprint {
                return Err(ApiError::new(
                    422,
                    "IDEMPOTENCY_KEY_REUSED",
                    "this Idempotency-Key was already used for another request; use a new key per request",
                ));
            }
            return json_response(stored.status, stored.body);
        }
        let stored = self.transaction(|| {
            let (status, body) = run()?;
            let answer = Idempotent {
                fingerprint,
                status,
                body,
            };
            // A write that stored nothing on a never-written cart (removing an absent line) keeps no key either:
            // replaying it is harmless, and it must not create storage that nothing expires.
            self.with_live(|live| match live.meta.touched_at {
                Some(_) => live.store.put_idempotent(&key, &answer, now),
                None => Ok(()),
            })?;
            Ok(answer)
        });
        match stored {
            Ok(stored) => {
                self.dirty.set(true);
                json_response(stored.status, stored.body)
            }
            Err(e) => {
                // The write may have changed the cart in memory while storage rolled back: load it again.
                *self.live.borrow_mut() = None;
                Err(e)
            }
        }
    }
}

/// A JSON answer from its text.
pub(super) fn json_response(status: u16, body: String) -> ApiResult<Response> {
    let mut response = Response::from_bytes(body.into_bytes())?.with_status(status);
    response
        .headers_mut()
        .set("content-type", "application/json")?;
    Ok(response)
}
