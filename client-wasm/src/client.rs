//! `CartClient`, the class storefronts use: a cart that works offline, persists to LocalStorage before every
//! method returns, syncs live with the worker, follows other tabs, and merges the guest cart on login.

use std::cell::RefCell;
use std::rc::Rc;

use cart_core::{Cart, EditError, MergePolicy, Op, OpJson, Quantity, SyncState, MAX_OPS};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CustomEvent, CustomEventInit, EventTarget, StorageEvent};

use crate::error::{cart_error, edit_error};
use crate::js;
use crate::persist;
use crate::session::{random_cart_id, token_subject, Session, Who};
use crate::store::{Store, WriteError};
use crate::stored;
use crate::sync::{self, Socket, Transport};
use crate::view::{view_of, ViewKey};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Offline,
    Connecting,
    Online,
}

pub struct Inner {
    pub base_url: String,
    pub transport: Transport,
    pub store: Store,
    pub session: Session,
    pub events: EventTarget,
    pub status: Status,
    pub wanted_online: bool,
    /// Whether the last write to LocalStorage succeeded.
    pub persisted: bool,
    pub socket: Option<Socket>,
    pub sync: SyncState,
    /// Bumped for every new connection; events of older sockets are ignored.
    pub generation: u32,
    pub backoff_ms: i32,
    pub reconnect_timer: Option<f64>,
    pub http_busy: bool,
    /// The server asked to wait this long before the next attempt (429 Retry-After, or a 1013 close).
    pub retry_after_ms: Option<i32>,
    /// No HTTP exchange before this time (ms since the epoch): the server's Retry-After, honoured even by `flush`.
    pub not_before_ms: i64,
    /// The sync state to resume from after a refused exchange (the server saw nothing of it).
    pub resume_sync: Option<SyncState>,
    /// Errors found while holding the state, announced once it is released.
    pub outbox: Vec<JsValue>,
    /// The cart needs a newer library (`sync::require_upgrade`): no more syncing or edits.
    pub upgrade_required: bool,
    /// The server refused the signed-in user's token (`sync::token_refused`): no syncing until `setToken`.
    pub token_refused: bool,
    /// Listeners on `globalThis` (other tabs' storage writes, the browser going offline and online).
    host_listeners: Vec<(&'static str, HostListener)>,
    /// Whether a compaction of `doc:<cart>` is due or already waiting for an idle moment.
    pub compaction: Compaction,
    /// The last view handed out and what it was made of: `view()` returns the same frozen object until something
    /// it shows changes.
    pub view: Option<(ViewKey, JsValue)>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Compaction {
    None,
    Due,
    Scheduled,
}

/// A listener on `globalThis`, kept alive as long as the client.
type HostListener = Closure<dyn FnMut(JsValue)>;
/// What the client does with one kind of host event.
type HostHandler = fn(&Rc<RefCell<Inner>>, JsValue);

impl Inner {
    /// Writes what the active cart has that LocalStorage lacks: the changes since the last write, as one new
    /// increment key (a full save when no snapshot is known to be stored). A full quota is reported, and the cart
    /// keeps working in memory; the next write tries again with a full save. A compaction that falls due (see
    /// `persist.rs`) is left for an idle moment (`emit` schedules it), not done inside the edit.
    pub fn save_doc(&mut self) {
        if !self.session.persisted.has_snapshot() {
            self.compact_doc();
            return;
        }
        let increment = self.session.cart.save_incremental();
        if increment.is_empty() {
            return;
        }
        self.write_increment(&increment);
        if self.session.persisted.compaction_due() && self.compaction == Compaction::None {
            self.compaction = Compaction::Due;
        }
    }

    /// Stores the cart as one full save and removes the increments it covers (those this replica has read or
    /// written; one another tab wrote a moment ago stays for the next compaction).
    pub fn compact_doc(&mut self) {
        // A snapshot another tab wrote since (unheard yet: its `storage` event may still be on its way) is merged
        // first, so writing this one over it loses nothing; one of a newer layout is left for that release.
        let name = self.session.doc_name();
        if let Some(text) = self.store.get(&name) {
            if !self.session.persisted.is_known_snapshot(&text) {
                if let Ok((theirs, _)) = stored::cart_of(&text) {
                    if let Err(e) = self.session.cart.merge(&theirs) {
                        if stored::is_newer_layout(&e) || self.session.cart.poisoned() {
                            return;
                        }
                    }
                }
            }
        }
        let bytes = self.session.cart.save();
        let text = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &bytes);
        match self.store.set(&name, &text) {
            Ok(()) => {
                self.persisted = true;
                for name in self.session.persisted.compacted(bytes.len(), &text) {
                    self.store.remove(&name);
                }
            }
            Err(WriteError::Full(why)) => {
                self.session.persisted.want_full_save();
                self.storage_full(&why);
            }
        }
    }

    /// Stores `increment` under a new key of its own. A refusal is reported, and the next write is a full save.
    pub fn write_increment(&mut self, increment: &[u8]) {
        let name = persist::increment_name(&self.session.who.cart_key(), &random_cart_id());
        match self.store.set_bytes(&name, increment) {
            Ok(()) => {
                self.persisted = true;
                self.session.persisted.add_increment(name, increment.len());
            }
            Err(WriteError::Full(why)) => {
                self.session.persisted.want_full_save();
                self.storage_full(&why);
            }
        }
    }

    fn storage_full(&mut self, why: &str) {
        self.persisted = false;
        self.outbox.push(cart_error(
            "STORAGE_FULL",
            &format!(
                "LocalStorage refused the cart ({why}); it keeps working in memory and syncing"
            ),
        ));
    }

    /// After Automerge panicked on outside bytes (contained in cart-core, which poisons the cart), replaces the
    /// cart with the copy in LocalStorage, which never saw those bytes, and reports `AUTOMERGE_PANIC`. Returns
    /// whether it did.
    pub fn reload_if_poisoned(&mut self) -> bool {
        if !self.session.cart.poisoned() {
            return false;
        }
        let mut problems = Vec::new();
        let who = self.session.who.clone();
        self.session = Session::open(&self.store, who, &mut problems);
        self.outbox.extend(problems);
        self.outbox.push(cart_error(
            "AUTOMERGE_PANIC",
            "Automerge failed on data from outside; it was refused and the cart was reloaded from LocalStorage",
        ));
        true
    }

    pub fn save_server_heads(&mut self) {
        let text = self
            .session
            .server_heads
            .iter()
            .map(|h| h.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let _ = self.store.set(&self.session.server_name(), &text);
    }
}

/// Announces `kind` ("change" or "status") with the current view, outside any borrow of the state.
pub fn emit(rc: &Rc<RefCell<Inner>>, kind: &str) {
    let (events, view, errors) = {
        let mut inner = rc.borrow_mut();
        (
            inner.events.clone(),
            view_of(&mut inner),
            std::mem::take(&mut inner.outbox),
        )
    };
    schedule_compaction(rc);
    for error in errors {
        dispatch(&events, "error", &error);
    }
    dispatch(&events, kind, &view);
}

/// Compacts `doc:<cart>` at the next idle moment when a write made it due: a full save costs as much as the
/// history, so it never runs inside an edit the shopper is waiting for.
fn schedule_compaction(rc: &Rc<RefCell<Inner>>) {
    if rc.borrow().compaction != Compaction::Due {
        return;
    }
    let weak = Rc::downgrade(rc);
    // Unwind safety asserted as for every callback here: a panic leaves no borrow held (see `CartClient`).
    let task = Closure::once_assert_unwind_safe(move || {
        let Some(rc) = weak.upgrade() else { return };
        let announce = {
            let mut inner = rc.borrow_mut();
            if inner.compaction != Compaction::Scheduled {
                return;
            }
            inner.compaction = Compaction::None;
            let (before, heads) = (inner.persisted, inner.session.cart.heads());
            inner.compact_doc();
            // A refused write (`STORAGE_FULL`) or another tab's snapshot merged first is news for listeners.
            (
                !inner.outbox.is_empty() || inner.persisted != before,
                inner.session.cart.heads() != heads,
            )
        };
        match announce {
            (_, true) => emit(&rc, "change"),
            (true, false) => emit(&rc, "status"),
            (false, false) => {}
        }
    })
    .into_js_value();
    if js::when_idle(task.unchecked_ref()) {
        rc.borrow_mut().compaction = Compaction::Scheduled;
    }
}

pub fn emit_error(rc: &Rc<RefCell<Inner>>, error: JsValue) {
    let events = rc.borrow().events.clone();
    dispatch(&events, "error", &error);
}

fn dispatch(events: &EventTarget, kind: &str, detail: &JsValue) {
    let init = CustomEventInit::new();
    init.set_detail(detail);
    if let Ok(event) = CustomEvent::new_with_event_init_dict(kind, &init) {
        let _ = events.dispatch_event(&event);
    }
}

/// What an edit of a cart that needs a newer library throws.
fn upgrade_error() -> JsValue {
    cart_error(
        "UPGRADE_REQUIRED",
        "this cart needs a newer version of the cart library; nothing was changed",
    )
}

/// An offline-first shopping cart bound to LocalStorage and synced with the edge-cart worker.
#[wasm_bindgen]
pub struct CartClient {
    pub(crate) inner: Rc<RefCell<Inner>>,
}

// The shipped wasm unwinds on panic (scripts/versions.sh), and wasm-bindgen's exports then ask for unwind safety.
// Automerge's panics on outside bytes are contained in cart-core, which poisons the cart, and the client reloads
// it from LocalStorage (`sync::receive`, `on_storage`, `login`); a panic that reaches an export throws in JS and
// leaves no borrow held.
impl std::panic::UnwindSafe for CartClient {}
impl std::panic::RefUnwindSafe for CartClient {}

#[wasm_bindgen]
impl CartClient {
    /// A cart for the API at `baseUrl` (e.g. `https://shop.example` or `http://127.0.0.1:8787`). Restores the
    /// cart from LocalStorage (a new guest cart the first time) and starts syncing unless `autoConnect` is false.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(js_name = baseUrl)] base_url: String,
        #[wasm_bindgen(unchecked_param_type = "CartClientOptions | undefined")] options: JsValue,
    ) -> CartClient {
        let prefix = js::get_string(&options, "storageKey").unwrap_or_else(|| "edge-cart".into());
        let transport = match js::get_string(&options, "transport").as_deref() {
            Some("http") => Transport::Http,
            Some("none") => Transport::None,
            _ if js::global("WebSocket").is_undefined() => Transport::Http,
            _ => Transport::WebSocket,
        };
        let auto_connect = js::get(&options, "autoConnect").as_bool() != Some(false);
        let store = Store::local(&prefix);
        let mut problems = Vec::new();
        let session = Session::restore(&store, &mut problems);
        let sync = session.cart.resume_sync(&session.server_heads);
        let inner = Rc::new(RefCell::new(Inner {
            base_url: base_url.trim_end_matches('/').to_owned(),
            transport,
            store,
            session,
            events: EventTarget::new()
                .unwrap_or_else(|_| JsValue::from(js_sys::Object::new()).unchecked_into()),
            status: Status::Offline,
            wanted_online: false,
            persisted: true,
            socket: None,
            sync,
            generation: 0,
            backoff_ms: 500,
            reconnect_timer: None,
            http_busy: false,
            retry_after_ms: None,
            not_before_ms: 0,
            resume_sync: None,
            outbox: Vec::new(),
            upgrade_required: false,
            token_refused: false,
            host_listeners: Vec::new(),
            compaction: Compaction::None,
            view: None,
        }));
        inner.borrow_mut().save_doc();
        listen_to_host(&inner);
        // A stored cart of a newer layout is shown read-only and never synced (`sync::require_upgrade`).
        let stored_layout = inner.borrow().session.cart.layout();
        let newer_increment = inner.borrow().session.newer_layout;
        if newer_increment {
            inner.borrow_mut().upgrade_required = true;
            problems.push(cart_error(
                "UPGRADE_REQUIRED",
                &format!(
                    "the stored cart has changes of a newer layout; this library knows layout {}",
                    cart_core::LAYOUT
                ),
            ));
        } else if stored_layout > cart_core::LAYOUT {
            inner.borrow_mut().upgrade_required = true;
            problems.push(cart_error(
                "UPGRADE_REQUIRED",
                &format!(
                    "the stored cart uses layout {stored_layout}; this library knows layout {}",
                    cart_core::LAYOUT
                ),
            ));
        }
        // Problems found while restoring are announced after the constructor returns, once listeners exist.
        let later = inner.clone();
        wasm_bindgen_futures::spawn_local(async move {
            later.borrow_mut().outbox.extend(problems);
            emit(&later, "status");
        });
        if auto_connect && js::host_online() {
            sync::connect(&inner);
        }
        CartClient { inner }
    }

    /// The cart now: lines, counts, version, sync status (`online`, `syncing`, `connecting`, `offline`) and the
    /// number of changes the server has not acknowledged yet. A frozen snapshot: the same object until something
    /// it shows changes, so it can be compared by identity (React's `useSyncExternalStore`, Vue's `shallowRef`).
    #[wasm_bindgen(unchecked_return_type = "CartView")]
    pub fn view(&self) -> JsValue {
        view_of(&mut self.inner.borrow_mut())
    }

    /// Adds `qty` (default 1) of `sku`. Applies and persists at once, then syncs. A `qty` that is not a whole
    /// number (`1.5`, `-1`, `"2"`) is `INVALID_QUANTITY`, as in `batch()` and the HTTP API, never rounded.
    pub fn add(
        &self,
        sku: &str,
        #[wasm_bindgen(unchecked_param_type = "number")] qty: Option<JsValue>,
    ) -> Result<(), JsValue> {
        // `null` is "not given" here, as before and as in the first-paint layer (`qty ?? 1`).
        let op = one_op("add", sku, qty.filter(|q| !q.is_null()))?;
        self.edit(Some(false), |cart| {
            cart.apply(&[op]).map_err(|e| edit_error(e.error))
        })
    }

    /// Sets the quantity of `sku`; 0 removes the line. A `qty` that is not a whole number is `INVALID_QUANTITY`.
    #[wasm_bindgen(js_name = setQuantity)]
    pub fn set_quantity(
        &self,
        sku: &str,
        #[wasm_bindgen(unchecked_param_type = "number")] qty: JsValue,
    ) -> Result<(), JsValue> {
        let op = one_op("set", sku, Some(qty))?;
        let removal = matches!(op, Op::Set { qty: 0, .. });
        self.edit(Some(removal), |cart| {
            cart.apply(&[op]).map_err(|e| edit_error(e.error))
        })
    }

    /// Removes the line for `sku` (absent is fine).
    pub fn remove(&self, sku: &str) -> Result<(), JsValue> {
        self.edit(Some(true), |cart| cart.remove(sku).map_err(edit_error))
    }

    /// Selects or deselects the line for checkout.
    #[wasm_bindgen(js_name = setSelected)]
    pub fn set_selected(&self, sku: &str, selected: bool) -> Result<(), JsValue> {
        self.edit(Some(false), |cart| {
            cart.set_selected(sku, selected).map_err(edit_error)
        })
    }

    /// Selects or deselects every line, in one change.
    #[wasm_bindgen(js_name = selectAll)]
    pub fn select_all(&self, selected: bool) -> Result<(), JsValue> {
        self.edit(Some(false), |cart| {
            cart.select_all(selected).map_err(edit_error)
        })
    }

    /// Removes every line.
    pub fn clear(&self) -> Result<(), JsValue> {
        self.edit(Some(true), |cart| cart.clear().map_err(edit_error))
    }

    /// Applies `ops` (at most 250) in order as one change, all or nothing, with the same rules and codes as the
    /// single edits and the server's `POST .../ops`: the first operation that cannot apply throws a `CartError`
    /// with its `code` and `index`, and the cart is unchanged.
    pub fn batch(
        &self,
        #[wasm_bindgen(unchecked_param_type = "CartOp[]")] ops: JsValue,
    ) -> Result<(), JsValue> {
        let ops = ops_of(&ops)?;
        if ops.is_empty() {
            return Err(cart_error("INVALID_BODY", "batch() needs 1-250 operations"));
        }
        // Undo is offered when the batch lowered or removed a line, whatever its operations were called.
        self.edit(None, |cart| {
            cart.apply(&ops).map_err(|e| match e.index {
                Some(index) => indexed(edit_error(e.error), index),
                None => edit_error(e.error),
            })
        })
    }

    /// Undoes the last removal or clear made here (`view().canUndo` says whether there is one): the lines come
    /// back with their quantities and selection, as ordinary edits that sync. Returns the skus brought back.
    pub fn undo(&self) -> Result<Vec<String>, JsValue> {
        let restored = {
            let mut inner = self.inner.borrow_mut();
            if inner.upgrade_required {
                return Err(upgrade_error());
            }
            let Some(heads) = inner.session.undo_heads.take() else {
                return Ok(Vec::new());
            };
            let before = inner.session.cart.heads();
            let restored = inner.session.cart.restore(&heads).map_err(edit_error)?;
            if !restored.is_empty() {
                inner.session.edited(&before);
                inner.save_doc();
            }
            restored
        };
        emit(&self.inner, "change");
        sync::pump(&self.inner);
        Ok(restored)
    }

    /// The signed-in user's token (for the storefront's own API calls), or `undefined` for a guest.
    #[wasm_bindgen(getter)]
    pub fn token(&self) -> Option<String> {
        match &self.inner.borrow().session.who {
            Who::User { token, .. } => Some(token.clone()),
            Who::Guest { .. } => None,
        }
    }

    /// This cart's path in the HTTP API: `/v1/carts/{cartId}` for a guest, `/v1/me/cart` when signed in.
    #[wasm_bindgen(getter, js_name = cartPath)]
    pub fn cart_path(&self) -> String {
        self.inner.borrow().session.api_path()
    }

    /// Signs in: merges the guest cart into the user's cart (policy `max` by default, or `sum`) as CRDT changes,
    /// so the merge is right even if repeated, done in two tabs at once, or done offline (it reaches the server
    /// when the connection returns). Returns where the guest's lines went.
    #[wasm_bindgen(unchecked_return_type = "MergeReport")]
    pub fn login(
        &self,
        token: &str,
        #[wasm_bindgen(unchecked_param_type = "'max' | 'sum' | undefined")] policy: Option<String>,
    ) -> Result<JsValue, JsValue> {
        let policy = match policy.as_deref() {
            None => MergePolicy::Max,
            Some(p) => p
                .parse::<MergePolicy>()
                .map_err(|e| cart_error("INVALID_POLICY", &e.to_string()))?,
        };
        let sub = token_subject(token)?;
        let report = {
            let mut inner = self.inner.borrow_mut();
            let inner = &mut *inner;
            if let Who::User {
                sub: current,
                token: old,
            } = &mut inner.session.who
            {
                if *current != sub {
                    return Err(cart_error(
                        "ALREADY_SIGNED_IN",
                        "another user is signed in; call logout() first",
                    ));
                }
                *old = token.to_owned();
                inner.session.save_who(&inner.store);
                cart_core::MergeReport {
                    already_merged: true,
                    ..Default::default()
                }
            } else {
                let mut problems = Vec::new();
                let who = Who::User {
                    sub: sub.clone(),
                    token: token.to_owned(),
                };
                let mut user = Session::open(&inner.store, who, &mut problems);
                inner.outbox.extend(problems);
                // Changes this user made here before signing out offline come back now.
                let pending = format!("pending:user:{sub}");
                if let Some(Ok(bytes)) = inner.store.get_bytes(&pending) {
                    if user.cart.load_incremental(&bytes).is_ok() {
                        inner.store.remove(&pending);
                    } else if user.cart.poisoned() {
                        user = Session::open(&inner.store, user.who.clone(), &mut Vec::new());
                    }
                }
                // The guest cart is named by its cart id, as the server names it in `POST /v1/me/cart/merge`: the
                // same guest state merged here offline and there counts once. The merge is a record of the guest
                // state; offline, against a stale copy of the user's cart, it is right as soon as the copy syncs.
                let source = match &inner.session.who {
                    Who::Guest { id } => id.clone(),
                    Who::User { sub, .. } => format!("user:{sub}"),
                };
                let report = user
                    .cart
                    .merge_guest(&inner.session.cart, &source, policy)
                    .map_err(|e| match e {
                        // The user's copy is dropped unused; storage never saw the merge.
                        cart_core::MergeError::Panicked(_) => {
                            cart_error("AUTOMERGE_PANIC", &e.to_string())
                        }
                        _ => cart_error("CART_DAMAGED", &e.to_string()),
                    })?;
                // Layout 2 kept the guest cart here to correct the merge after the next sync; nothing needs it now.
                inner.store.remove(&format!("reconcile:user:{sub}"));
                inner.store.remove(&format!("reconcile-policy:user:{sub}"));
                let guest = std::mem::replace(&mut inner.session, user);
                inner.session.save_who(&inner.store);
                inner.save_doc();
                // The guest's lines now live in the user's cart, in storage: the guest copy can go.
                guest.remove_from(&inner.store);
                report
            }
        };
        // A new token or a new identity: whatever the server refused before may be accepted now.
        self.inner.borrow_mut().token_refused = false;
        sync::reconnect(&self.inner);
        emit(&self.inner, "change");
        report
            .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
            .map_err(|e| cart_error("INTERNAL", &e.to_string()))
    }

    /// Replaces the signed-in user's token (an identity provider's silent refresh) and keeps the session: its cart,
    /// its pending edits and an open connection (the server checks a token when a connection opens). Syncing that
    /// stopped because the server refused the old token starts again. Throws `NOT_SIGNED_IN` for a guest and
    /// `WRONG_USER` for a token of another user (sign out first).
    #[wasm_bindgen(js_name = setToken)]
    pub fn set_token(&self, token: &str) -> Result<(), JsValue> {
        let sub = token_subject(token)?;
        let resume = {
            let mut inner = self.inner.borrow_mut();
            let inner = &mut *inner;
            match &mut inner.session.who {
                Who::User {
                    sub: current,
                    token: old,
                } if *current == sub => *old = token.to_owned(),
                Who::User { .. } => {
                    return Err(cart_error(
                        "WRONG_USER",
                        "the token names another user; call logout() and then login()",
                    ))
                }
                Who::Guest { .. } => {
                    return Err(cart_error(
                        "NOT_SIGNED_IN",
                        "setToken() needs a signed-in session; call login() first",
                    ))
                }
            }
            inner.session.save_who(&inner.store);
            // Only syncing the refused token stopped starts again at once; a session that is offline for another
            // reason (no network, a server asking to wait) keeps its backoff and uses the new token next time.
            let resume = inner.token_refused;
            inner.token_refused = false;
            if resume {
                inner.backoff_ms = sync::MIN_BACKOFF_MS;
            }
            resume
        };
        if resume {
            sync::reconnect(&self.inner);
        }
        Ok(())
    }

    /// Signs out: waits (up to `timeoutMs`, default 5000) for pending changes to reach the server, keeps them
    /// aside in this browser if they could not, removes the user's cart from this browser, and starts a new guest
    /// cart. Resolves to `true` when nothing was left pending.
    pub async fn logout(
        &self,
        #[wasm_bindgen(js_name = timeoutMs)] timeout_ms: Option<u32>,
    ) -> Result<bool, JsValue> {
        if !matches!(self.inner.borrow().session.who, Who::User { .. }) {
            return Ok(true);
        }
        let flushed = self.flush(timeout_ms).await;
        {
            let mut inner = self.inner.borrow_mut();
            let inner = &mut *inner;
            if let Who::User { sub, .. } = &inner.session.who {
                if inner.session.pending() > 0 {
                    let bytes = inner.session.cart.encode();
                    let _ = inner
                        .store
                        .set_bytes(&format!("pending:user:{sub}"), &bytes);
                }
            }
            inner.session.remove_from(&inner.store);
            let mut problems = Vec::new();
            inner.session = Session::open(
                &inner.store,
                Who::Guest {
                    id: random_cart_id(),
                },
                &mut problems,
            );
            inner.outbox.extend(problems);
            inner.session.save_who(&inner.store);
            inner.save_doc();
            // The refused token went with the user; the guest cart syncs.
            inner.token_refused = false;
        }
        sync::reconnect(&self.inner);
        emit(&self.inner, "change");
        Ok(flushed)
    }

    /// Resolves to `true` once the server has every local change, or `false` after `timeoutMs` (default 5000).
    pub async fn flush(
        &self,
        #[wasm_bindgen(js_name = timeoutMs)] timeout_ms: Option<u32>,
    ) -> bool {
        let deadline = js::now_ms() + i64::from(timeout_ms.unwrap_or(5000));
        loop {
            if self.inner.borrow().session.pending() == 0 {
                return true;
            }
            if js::now_ms() >= deadline {
                return false;
            }
            sync::pump(&self.inner);
            sleep(50).await;
        }
    }

    /// Starts (or resumes) syncing with the server.
    pub fn connect(&self) {
        sync::connect(&self.inner);
    }

    /// Stops syncing; edits keep working offline and are sent on `connect()`.
    pub fn disconnect(&self) {
        sync::disconnect(&self.inner);
    }

    /// Listens for `change` (the cart changed, here, in another tab or on another device), `status` (connection or
    /// pending count changed) and `error` (a `CartError` with a `code`). The event's `detail` is the view (or error).
    /// (Typed in `types.rs`, per event name.)
    #[wasm_bindgen(js_name = addEventListener, skip_typescript)]
    pub fn add_event_listener(
        &self,
        kind: &str,
        listener: &js_sys::Function,
    ) -> Result<(), JsValue> {
        self.inner
            .borrow()
            .events
            .add_event_listener_with_callback(kind, listener)
    }

    #[wasm_bindgen(js_name = removeEventListener, skip_typescript)]
    pub fn remove_event_listener(
        &self,
        kind: &str,
        listener: &js_sys::Function,
    ) -> Result<(), JsValue> {
        self.inner
            .borrow()
            .events
            .remove_event_listener_with_callback(kind, listener)
    }

    /// Calls `callback(view)` on every change; returns a function that stops it.
    #[wasm_bindgen(unchecked_return_type = "() => void")]
    pub fn subscribe(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(view: CartView) => void")]
        callback: js_sys::Function,
    ) -> Result<js_sys::Function, JsValue> {
        let listener = Closure::<dyn FnMut(CustomEvent)>::new(move |event: CustomEvent| {
            let _ = callback.call1(&JsValue::UNDEFINED, &event.detail());
        })
        .into_js_value()
        .unchecked_into::<js_sys::Function>();
        self.add_event_listener("change", &listener)?;
        let events = self.inner.borrow().events.clone();
        let stop = Closure::once_into_js(move || {
            let _ = events.remove_event_listener_with_callback("change", &listener);
        });
        Ok(stop.unchecked_into())
    }
}

impl CartClient {
    /// Applies `op`; a `removal` (remove, clear, quantity 0) can be undone afterwards.
    /// One local edit: applied, persisted, announced, synced. `removal`: whether undo should bring back what it
    /// took (`None`: when some line's quantity went down).
    fn edit(
        &self,
        removal: Option<bool>,
        op: impl FnOnce(&mut Cart) -> Result<(), JsValue>,
    ) -> Result<(), JsValue> {
        {
            let mut inner = self.inner.borrow_mut();
            if inner.upgrade_required {
                return Err(upgrade_error());
            }
            let before = inner.session.cart.heads();
            let shown = removal.is_none().then(|| inner.session.cart.view());
            op(&mut inner.session.cart)?;
            if inner.session.cart.heads() == before {
                return Ok(());
            }
            let removal = removal.unwrap_or_else(|| {
                let now = inner.session.cart.view();
                shown.is_some_and(|was| was.lines.iter().any(|l| now.qty(&l.sku) < l.qty))
            });
            inner.session.edited(&before);
            if removal {
                inner.session.undo_heads = Some(before);
            }
            inner.save_doc();
        }
        emit(&self.inner, "change");
        sync::pump(&self.inner);
        Ok(())
    }
}

impl Drop for CartClient {
    fn drop(&mut self) {
        let mut inner = self.inner.borrow_mut();
        inner.wanted_online = false;
        inner.socket = None;
        if let Some(timer) = inner.reconnect_timer.take() {
            js::clear_timeout(timer);
        }
        let global: EventTarget = js_sys::global().unchecked_into();
        for (kind, listener) in inner.host_listeners.drain(..) {
            let _ =
                global.remove_event_listener_with_callback(kind, listener.as_ref().unchecked_ref());
        }
    }
}

/// Listens to the host: other tabs write the same LocalStorage, and the `storage` event tells this tab, which
/// merges their cart (or follows their sign-in or sign-out); `offline` and `online` say when the network went away
/// and came back, so the library reconnects at once rather than at the next backoff tick; `pageshow` from the
/// back-forward cache, to read what other tabs wrote while this page was frozen.
fn listen_to_host(rc: &Rc<RefCell<Inner>>) {
    if !js::global("addEventListener").is_function() {
        return;
    }
    let global: EventTarget = js_sys::global().unchecked_into();
    let handlers: [(&'static str, HostHandler); 4] = [
        ("storage", |rc, event| {
            if let Ok(event) = event.dyn_into::<StorageEvent>() {
                crate::tabs::on_storage(rc, &event);
            }
        }),
        ("pageshow", |rc, event| {
            crate::tabs::on_page_show(rc, &event)
        }),
        ("offline", |rc, _| sync::host_offline(rc)),
        ("online", |rc, _| sync::host_online(rc)),
    ];
    for (kind, handler) in handlers {
        let weak = Rc::downgrade(rc);
        let listener =
            Closure::<dyn FnMut(JsValue)>::own_assert_unwind_safe(move |event: JsValue| {
                if let Some(rc) = weak.upgrade() {
                    handler(&rc, event);
                }
            });
        let _ = global.add_event_listener_with_callback(kind, listener.as_ref().unchecked_ref());
        rc.borrow_mut().host_listeners.push((kind, listener));
    }
}

/// The operations of a JS array of `CartOp`s, each checked as the server checks them.
fn ops_of(value: &JsValue) -> Result<Vec<Op>, JsValue> {
    let array = value
        .dyn_ref::<js_sys::Array>()
        .ok_or_else(|| cart_error("INVALID_BODY", "batch() takes an array of operations"))?;
    if array.length() as usize > MAX_OPS {
        return Err(edit_error(EditError::TooManyOps(array.length() as usize)));
    }
    array
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let json =
                op_json(&item).map_err(|why| indexed(cart_error("INVALID_BODY", &why), i))?;
            Op::from_json(json).map_err(|e| indexed(edit_error(e), i))
        })
        .collect()
}

/// A JS operation object as the core's [`OpJson`], read member by member (serde-wasm-bindgen's generic
/// deserializer would cost the package kilobytes for four members): `Err` for a non-object, a member of the wrong
/// type or an unknown member, as the server's JSON reading refuses them.
fn op_json(item: &JsValue) -> Result<OpJson, String> {
    if !item.is_object() || js_sys::Array::is_array(item) {
        return Err("an operation is an object".to_owned());
    }
    let object: &js_sys::Object = item.unchecked_ref();
    for key in js_sys::Object::keys(object).iter() {
        let key = key.as_string().unwrap_or_default();
        if !["op", "sku", "qty", "selected"].contains(&key.as_str()) {
            return Err(format!("unknown member \"{key}\""));
        }
    }
    let member = |name: &str| {
        let value = js::get(item, name);
        (!value.is_undefined()).then_some(value)
    };
    let text = |name: &str| -> Result<Option<String>, String> {
        member(name)
            .map(|v| {
                v.as_string()
                    .ok_or_else(|| format!("{name} must be a string"))
            })
            .transpose()
    };
    Ok(OpJson {
        op: text("op")?.ok_or("op is required")?,
        sku: text("sku")?,
        qty: member("qty").map(|v| quantity_of(&v)),
        selected: member("selected")
            .map(|v| v.as_bool().ok_or("selected must be true or false"))
            .transpose()?,
    })
}

/// The operation a single edit (`add`, `setQuantity`) names, read by the rule `batch()` reads `qty` with
/// (`undefined` or `null`: left out).
fn one_op(op: &str, sku: &str, qty: Option<JsValue>) -> Result<Op, JsValue> {
    let qty = qty.map(|q| quantity_of(&q));
    Op::from_json(OpJson {
        op: op.to_owned(),
        sku: Some(sku.to_owned()),
        qty,
        selected: None,
    })
    .map_err(edit_error)
}

/// A JS `qty` as the core reads it: a number, or anything else (refused as `INVALID_QUANTITY`).
fn quantity_of(value: &JsValue) -> Quantity {
    match value.as_f64() {
        Some(n) => Quantity::Number(n),
        None => Quantity::Other(serde::de::IgnoredAny),
    }
}

/// `error` with the position of the operation it is about.
fn indexed(error: JsValue, index: usize) -> JsValue {
    js::set(&error, "index", &JsValue::from(index as u32));
    error
}

pub(crate) async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        js::set_timeout(&resolve, ms);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}
