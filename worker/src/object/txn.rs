//! One command, one transaction: the Durable Object storage's synchronous transaction
//! (`ctx.storage.transactionSync`), which workers-rs 0.8.7 does not bind.
//!
//! Every SQL statement the body runs commits together, or none does: the body returning `Err` (or panicking, which
//! wasm-bindgen turns into a JavaScript exception) makes `transactionSync` roll back. The in-memory cart may hold
//! what the body did before it failed: a caller whose transaction failed drops it (`*live = None`), so the next
//! request loads what storage holds.

use std::cell::Cell;

use worker::js_sys::{Function, Reflect};
use worker::wasm_bindgen::closure::ScopedClosure;
use worker::wasm_bindgen::{JsCast, JsValue};

use super::CartObject;
use crate::error::{ApiError, ApiResult};

thread_local! {
    /// Whether a transaction is open (a body that opens one again runs inside the outer one).
    static OPEN: Cell<bool> = const { Cell::new(false) };
    /// A change made inside the open transaction, to push to the sockets once it commits.
    static PUSH: Cell<bool> = const { Cell::new(false) };
}

/// Whether a transaction is open; if so, remembers to push to the sockets after it commits (a socket must never
/// hear of a change that storage then rolls back).
pub(super) fn defer_push() -> bool {
    let open = OPEN.with(Cell::get);
    if open {
        PUSH.with(|push| push.set(true));
    }
    open
}

impl CartObject {
    /// Runs `body` in one storage transaction (see the module docs).
    pub(super) fn transaction<T>(&self, body: impl FnOnce() -> ApiResult<T>) -> ApiResult<T> {
        if OPEN.with(Cell::get) {
            return body();
        }
        let storage = Reflect::get(self.state.as_raw(), &JsValue::from_str("storage"))
            .map_err(|e| js_internal("storage", e))?;
        let transaction_sync: Function =
            Reflect::get(&storage, &JsValue::from_str("transactionSync"))
                .map_err(|e| js_internal("transactionSync", e))?
                .dyn_into()
                .map_err(|e| js_internal("transactionSync is not a function", e))?;
        let mut body = Some(body);
        let mut outcome: Option<ApiResult<T>> = None;
        let called = {
            let mut run = || -> Result<JsValue, JsValue> {
                let Some(body) = body.take() else {
                    return Err(JsValue::from_str("the transaction body ran twice"));
                };
                OPEN.with(|open| open.set(true));
                let result = body();
                OPEN.with(|open| open.set(false));
                let failed = result.is_err();
                outcome = Some(result);
                if failed {
                    // Throwing is how a transactionSync body asks for a rollback.
                    Err(JsValue::from_str("rolled back"))
                } else {
                    Ok(JsValue::UNDEFINED)
                }
            };
            // A panic in the body is caught at this closure's boundary and thrown to transactionSync, which rolls
            // back; the cart is dropped below like after any failure.
            let closure =
                ScopedClosure::<dyn FnMut() -> Result<JsValue, JsValue>>::borrow_mut_assert_unwind_safe(&mut run);
            transaction_sync.call1(&storage, closure.as_ref())
        };
        OPEN.with(|open| open.set(false));
        let push = PUSH.with(Cell::take);
        match (called, outcome) {
            (Ok(_), Some(Ok(value))) => {
                if push {
                    self.push_all();
                }
                Ok(value)
            }
            (_, Some(Err(e))) => Err(e),
            (Err(e), _) => Err(js_internal("transaction", e)),
            (Ok(_), None) => Err(ApiError::internal("transaction", "the body did not run")),
        }
    }
}

fn js_internal(context: &str, e: JsValue) -> ApiError {
    ApiError::internal(context, e.as_string().unwrap_or_else(|| format!("{e:?}")))
}
