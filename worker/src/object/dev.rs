//! The object's side of the dev routes (`crate::dev`): dev and test builds only (cargo feature `dev`).

use cart_core::SyncState;
use worker::{Response, SqlStorageValue};

use super::{internal_json, now_ms, sync_error, CartObject};
use crate::error::ApiResult;
use crate::protocol::{self, op};

impl CartObject {
    /// Answers a dev command, or `None` when `path` is not one.
    pub(super) fn dev_command(&self, path: &str, body: &[u8]) -> ApiResult<Option<Response>> {
        Ok(Some(match path {
            op::NOOP => Response::empty()?.with_status(204),
            op::NOOP_WRITE => {
                let cmd: protocol::NoopWrite = if body.is_empty() {
                    protocol::NoopWrite::default()
                } else {
                    internal_json(body)?
                };
                let now = now_ms();
                self.with_live(|live| {
                    live.store
                        .set_meta("benchNoopWrite", SqlStorageValue::Integer(now))
                })?;
                if cmd.bytes == 0 {
                    Response::empty()?.with_status(204)
                } else {
                    // `{"pad":"x…x"}`, `bytes` long (at least the 10 bytes of its frame).
                    let pad = "x".repeat((cmd.bytes as usize).saturating_sub(10));
                    let body = format!("{{\"pad\":\"{pad}\"}}");
                    super::idempotency::json_response(200, body)?
                }
            }
            op::EVICT => {
                *self.live.borrow_mut() = None;
                Response::empty()?.with_status(204)
            }
            op::STORAGE => {
                let stats = self.with_live(|live| live.store.stats())?;
                Response::from_json(&stats)?
            }
            op::SEED => {
                let cmd: protocol::Seed = internal_json(body)?;
                let lines = self.with_live(|live| Ok(live.cart.view().line_count))?;
                let mut mix =
                    cart_core::sim::EditMix::new(u64::from(cmd.edits) ^ lines as u64, 120);
                let mut done = 0;
                while done < cmd.edits {
                    // One edit, one durable write, as a request would do (without the push: no sockets here).
                    if self.apply(|cart| Ok(mix.apply_next(cart)))?.0 {
                        done += 1;
                    }
                }
                let stats = self.with_live(|live| live.store.stats())?;
                Response::from_json(&stats)?
            }
            op::SYNC_UNCHECKED => {
                let mut state = SyncState::new();
                let reply = self.edit(|cart| {
                    cart.receive_sync_message_unchecked(&mut state, body)
                        .map_err(sync_error)?;
                    Ok(cart.generate_sync_message(&mut state))
                })?;
                Response::from_bytes(reply.unwrap_or_default())?
            }
            op::FAIL => {
                let cmd: protocol::Fail = internal_json(body)?;
                // What was left of the previous arming (null once it fired): a test that disarms after a command
                // succeeded learns whether the failure was really never reached.
                let left = crate::store::fault::left();
                // Counted from the end of this command on (0 disarms).
                crate::store::fault::arm((cmd.statement > 0).then_some(cmd.statement));
                Response::from_json(&serde_json::json!({ "left": left }))?
            }
            // A panic in the object's own code, with the cart borrowed (see `CartObject::contained`).
            op::PANIC => self.with_live(|live| -> ApiResult<Response> {
                // Half-done work in memory, never stored: the reload after the panic must drop it.
                live.cart.add("PANIC-LEFTOVER", 1)?;
                panic!("the dev panic route")
            })?,
            _ => return Ok(None),
        }))
    }
}
