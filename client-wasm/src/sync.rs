//! Keeping the active cart in sync with the worker: a WebSocket speaking the Automerge sync protocol, with
//! reconnect and backoff, or one-shot HTTP exchanges where sockets are unavailable.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use cart_core::SyncState;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{BinaryType, MessageEvent, WebSocket};

use crate::client::{emit, Inner, Status};
use crate::error::cart_error;
use crate::js;
use crate::session::Who;

pub const MIN_BACKOFF_MS: i32 = 500;
const MAX_BACKOFF_MS: i32 = 30_000;
/// How often the HTTP transport asks the server for news when idle.
const HTTP_POLL_MS: i32 = 5_000;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    WebSocket,
    Http,
    None,
}

/// An open (or opening) socket and the handlers that must live as long as it does.
pub struct Socket {
    pub ws: WebSocket,
    _handlers: Vec<Closure<dyn FnMut(JsValue)>>,
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        self.ws.set_onerror(None);
        let _ = self.ws.close();
    }
}

/// The sync route, announcing the cart layout this library writes (the server refuses older ones with
/// `426 UPGRADE_REQUIRED`). A user's token goes in the query only on the WebSocket upgrade, which browsers cannot
/// give headers; every HTTP request carries it in `Authorization` instead.
fn path(who: &Who, socket: bool) -> String {
    let layout = cart_core::LAYOUT;
    match who {
        Who::Guest { id } => format!("/v1/carts/{id}/sync?layout={layout}"),
        Who::User { token, .. } if socket => format!(
            "/v1/me/cart/sync?layout={layout}&access_token={}",
            js_sys::encode_uri_component(token)
        ),
        Who::User { .. } => format!("/v1/me/cart/sync?layout={layout}"),
    }
}

/// The cart needs a newer library: its document, or a change the server sent (which the server had checked), is
/// of a layout this one does not know, or the server refused this library's layout. The client stops syncing and
/// refuses edits (`UPGRADE_REQUIRED`), keeps what it has (pending edits stay in LocalStorage, unsent) and says so
/// once with an `error` event.
pub fn require_upgrade(rc: &Rc<RefCell<Inner>>, message: &str) {
    {
        let mut inner = rc.borrow_mut();
        if inner.upgrade_required {
            return;
        }
        inner.upgrade_required = true;
        inner.wanted_online = false;
    }
    crate::client::emit_error(rc, cart_error("UPGRADE_REQUIRED", message));
    // Close the connection from a fresh task: this may run inside the socket's own message handler.
    let weak = Rc::downgrade(rc);
    let later = Closure::once_assert_unwind_safe(move || {
        if let Some(rc) = weak.upgrade() {
            disconnect(&rc);
        }
    })
    .into_js_value();
    if let Some(f) = later.dyn_ref::<js_sys::Function>() {
        js::set_timeout(f, 0);
    }
}

/// Starts syncing, if the client wants to be online and is not already.
pub fn connect(rc: &Rc<RefCell<Inner>>) {
    let transport = {
        let mut inner = rc.borrow_mut();
        if inner.upgrade_required {
            return;
        }
        inner.wanted_online = true;
        if inner.token_refused {
            // Waits for `setToken` (or a new login): the same token would be refused again.
            return;
        }
        if let Some(timer) = inner.reconnect_timer.take() {
            js::clear_timeout(timer);
        }
        inner.transport
    };
    match transport {
        Transport::WebSocket => open_socket(rc),
        Transport::Http => http_sync(rc),
        Transport::None => {}
    }
}

/// Stops syncing until [`connect`]; local edits keep working and queue in the document.
pub fn disconnect(rc: &Rc<RefCell<Inner>>) {
    {
        let mut inner = rc.borrow_mut();
        inner.wanted_online = false;
        if let Some(timer) = inner.reconnect_timer.take() {
            js::clear_timeout(timer);
        }
        inner.generation += 1;
        inner.socket = None;
        inner.status = Status::Offline;
    }
    emit(rc, "status");
}

/// The browser lost the network: drop the connection now (a socket may otherwise look open for a long while) and
/// wait for `online`, with the backoff as a fallback for hosts that never say so.
pub fn host_offline(rc: &Rc<RefCell<Inner>>) {
    {
        let mut inner = rc.borrow_mut();
        if !inner.wanted_online {
            return;
        }
        inner.generation += 1;
        inner.socket = None;
        inner.status = Status::Offline;
    }
    emit(rc, "status");
    schedule_retry(rc, false);
}

/// The network is back: reconnect at once, with the backoff reset.
pub fn host_online(rc: &Rc<RefCell<Inner>>) {
    {
        let mut inner = rc.borrow_mut();
        if !inner.wanted_online {
            return;
        }
        inner.backoff_ms = MIN_BACKOFF_MS;
    }
    connect(rc);
}

/// Drops the current connection and opens a new one (after a change of identity).
pub fn reconnect(rc: &Rc<RefCell<Inner>>) {
    let wanted = {
        let mut inner = rc.borrow_mut();
        inner.generation += 1;
        inner.socket = None;
        inner.status = Status::Offline;
        inner.wanted_online
    };
    if wanted {
        connect(rc);
    }
}

fn open_socket(rc: &Rc<RefCell<Inner>>) {
    let mut inner = rc.borrow_mut();
    if inner.socket.is_some() {
        return;
    }
    let url = format!(
        "{}{}",
        inner.base_url.replacen("http", "ws", 1),
        path(&inner.session.who, true)
    );
    let ws = match WebSocket::new(&url) {
        Ok(ws) => ws,
        Err(_) => {
            drop(inner);
            schedule_retry(rc, false);
            return;
        }
    };
    ws.set_binary_type(BinaryType::Arraybuffer);
    inner.generation += 1;
    let generation = inner.generation;
    let handler = |rc: &Rc<RefCell<Inner>>, f: fn(&Rc<RefCell<Inner>>, u32, JsValue)| {
        let weak: Weak<RefCell<Inner>> = Rc::downgrade(rc);
        Closure::wrap_assert_unwind_safe(Box::new(move |event: JsValue| {
            if let Some(rc) = weak.upgrade() {
                f(&rc, generation, event);
            }
        }) as Box<dyn FnMut(JsValue)>)
    };
    let on_open = handler(rc, on_open);
    let on_message = handler(rc, on_message);
    let on_close = handler(rc, on_close);
    let on_error = handler(rc, on_error);
    ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    ws.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    inner.socket = Some(Socket {
        ws,
        _handlers: vec![on_open, on_message, on_close, on_error],
    });
    // The server holds what it last acknowledged: the first messages summarise only what came after.
    inner.sync = inner.session.cart.resume_sync(&inner.session.server_heads);
    inner.status = Status::Connecting;
    drop(inner);
    emit(rc, "status");
}

fn current(rc: &Rc<RefCell<Inner>>, generation: u32) -> bool {
    rc.borrow().generation == generation
}

fn on_open(rc: &Rc<RefCell<Inner>>, generation: u32, _event: JsValue) {
    if !current(rc, generation) {
        return;
    }
    {
        let mut inner = rc.borrow_mut();
        inner.status = Status::Online;
        inner.backoff_ms = MIN_BACKOFF_MS;
    }
    pump(rc);
    emit(rc, "status");
}

fn on_message(rc: &Rc<RefCell<Inner>>, generation: u32, event: JsValue) {
    if !current(rc, generation) {
        return;
    }
    let Ok(event) = event.dyn_into::<MessageEvent>() else {
        return;
    };
    let Ok(buffer) = event.data().dyn_into::<js_sys::ArrayBuffer>() else {
        return;
    };
    let bytes = js_sys::Uint8Array::new(&buffer).to_vec();
    receive(rc, &bytes);
    pump(rc);
}

/// Applies one sync message from the server; persists and announces what it changed.
fn receive(rc: &Rc<RefCell<Inner>>, bytes: &[u8]) {
    let (changed, failed, upgrade) = {
        let mut inner = rc.borrow_mut();
        let inner = &mut *inner;
        let before = inner.session.cart.heads();
        let pending_before = inner.session.pending();
        match inner
            .session
            .cart
            .receive_sync_message(&mut inner.sync, bytes)
        {
            // The server checked every change it sends with the same rules: one this library refuses is of a
            // layout it does not know.
            Err(e @ cart_core::SyncError::InvalidChange(_)) => (false, None, Some(e.to_string())),
            // Automerge panicked (contained): the cart goes back to what LocalStorage holds, which never saw the
            // message, and the sync state starts over.
            Err(cart_core::SyncError::Panicked(_)) => {
                inner.reload_if_poisoned();
                inner.sync = SyncState::new();
                (true, None, None)
            }
            Err(e) => (false, Some(cart_error("SYNC_FAILED", &e.to_string())), None),
            Ok(()) => {
                if let Some(heads) = inner.sync.peer_heads() {
                    if heads != inner.session.server_heads {
                        inner.session.server_heads = heads;
                        inner.save_server_heads();
                    }
                }
                let changed = inner.session.cart.heads() != before;
                if changed {
                    inner.save_doc();
                }
                let upgrade = inner
                    .session
                    .cart
                    .needs_upgrade()
                    .then(|| format!("the cart uses layout {}", inner.session.cart.layout()));
                (
                    changed || inner.session.pending() != pending_before,
                    None,
                    upgrade,
                )
            }
        }
    };
    if let Some(message) = upgrade {
        require_upgrade(
            rc,
            &format!("{message}; this library knows layout {}", cart_core::LAYOUT),
        );
    }
    if let Some(error) = failed {
        crate::client::emit_error(rc, error);
    }
    if changed {
        emit(rc, "change");
    }
}

/// An error ends the connection as a close does. Some runtimes (Node's WebSocket after a refused upgrade) fire no
/// close after it; where one follows, it belongs to an older generation and is ignored.
fn on_error(rc: &Rc<RefCell<Inner>>, generation: u32, event: JsValue) {
    if !current(rc, generation) {
        return;
    }
    let next = {
        let mut inner = rc.borrow_mut();
        inner.generation += 1;
        inner.generation
    };
    on_close(rc, next, event);
}

fn on_close(rc: &Rc<RefCell<Inner>>, generation: u32, event: JsValue) {
    if !current(rc, generation) {
        return;
    }
    // 1013 "try again later" is the server's rate limit on sockets: its reason says how long to wait.
    let wait = event
        .dyn_into::<web_sys::CloseEvent>()
        .ok()
        .filter(|e| e.code() == 1013)
        .map(|e| seconds_in(&e.reason()).unwrap_or(5) * 1000);
    let probe = {
        let mut inner = rc.borrow_mut();
        // A browser shows a refused upgrade only as a close: a user's socket that never opened asks over HTTP why.
        let probe = match (&inner.session.who, inner.status) {
            (Who::User { token, .. }, Status::Connecting) => Some(token.clone()),
            _ => None,
        };
        inner.socket = None;
        inner.status = Status::Offline;
        if wait.is_some() {
            inner.retry_after_ms = wait;
        }
        probe.map(|token| (format!("{}/v1/me/cart", inner.base_url), token))
    };
    emit(rc, "status");
    let Some((url, token)) = probe else {
        schedule_retry(rc, false);
        return;
    };
    let rc = rc.clone();
    wasm_bindgen_futures::spawn_local(async move {
        let refused = match probe_token(&url, &token).await {
            Err(Failure::Refused(code, message, token)) => {
                token_refused(&rc, &token, &code, &message)
            }
            Err(Failure::RetryAfter(ms)) => {
                let mut inner = rc.borrow_mut();
                inner.retry_after_ms = Some(inner.retry_after_ms.unwrap_or(0).max(ms));
                false
            }
            _ => false,
        };
        if !refused {
            schedule_retry(&rc, false);
        }
    });
}

/// The server refused the signed-in user's token (`401`): say so once with an `error` event carrying the server's
/// code (`TOKEN_EXPIRED`, `INVALID_TOKEN`), and stop syncing until `setToken` or a new login. Edits keep working
/// and stay pending in LocalStorage.
/// Returns whether it did (`false` when `token` is no longer the session's).
fn token_refused(rc: &Rc<RefCell<Inner>>, token: &str, code: &str, message: &str) -> bool {
    {
        let mut inner = rc.borrow_mut();
        // An answer about a token that `setToken`, a login or a logout has replaced since says nothing now.
        let current = matches!(&inner.session.who, Who::User { token: t, .. } if t == token);
        if !current {
            return false;
        }
        if inner.token_refused {
            return true;
        }
        inner.token_refused = true;
        if let Some(timer) = inner.reconnect_timer.take() {
            js::clear_timeout(timer);
        }
    }
    crate::client::emit_error(rc, cart_error(code, message));
    true
}

/// `GET /v1/me/cart` with the token: `Failure::Refused` when the server answers 401, `Failure::RetryAfter` when it
/// asks to wait.
async fn probe_token(url: &str, token: &str) -> Result<(), Failure> {
    let init = js_sys::Object::new();
    let headers = js_sys::Object::new();
    js::set(&headers, "authorization", &format!("Bearer {token}").into());
    js::set(&init, "headers", &headers);
    let fetch: js_sys::Function = js::global("fetch").dyn_into()?;
    let response = JsFuture::from(js_sys::Promise::from(fetch.call2(
        &JsValue::UNDEFINED,
        &url.into(),
        &init,
    )?))
    .await?;
    busy(&response)?;
    refusal(&response, token).await
}

/// `Err(Failure::RetryAfter(ms))` for a `429` (rate limited) or `503` (e.g. the identity provider's keys
/// unavailable) answer: the time its `Retry-After` asks for, 5 s without one.
fn busy(response: &JsValue) -> Result<(), Failure> {
    let status = js::get(response, "status").as_f64();
    if status != Some(429.0) && status != Some(503.0) {
        return Ok(());
    }
    let headers = js::get(response, "headers");
    let retry_after = js::get(&headers, "get")
        .dyn_into::<js_sys::Function>()
        .ok()
        .and_then(|get| get.call1(&headers, &"retry-after".into()).ok())
        .and_then(|v| v.as_string())
        .and_then(|v| seconds_in(&v))
        .unwrap_or(5);
    Err(Failure::RetryAfter(retry_after * 1000))
}

/// `Err(Failure::Refused(code, message, token))` for a 401 answer to a request with `token`, with the code and
/// message of its JSON body.
async fn refusal(response: &JsValue, token: &str) -> Result<(), Failure> {
    if js::get(response, "status").as_f64() != Some(401.0) {
        return Ok(());
    }
    let json: js_sys::Function = js::get(response, "json").dyn_into()?;
    let body = JsFuture::from(js_sys::Promise::from(json.call0(response)?))
        .await
        .unwrap_or(JsValue::NULL);
    let error = js::get(&body, "error");
    let code = js::get_string(&error, "code").unwrap_or_else(|| "INVALID_TOKEN".to_owned());
    let message = js::get_string(&error, "message")
        .unwrap_or_else(|| "the server refused the token".to_owned());
    Err(Failure::Refused(code, message, token.to_owned()))
}

/// Calls [`connect`] again later: after [`HTTP_POLL_MS`] when `poll`ing after a good HTTP exchange, otherwise
/// after the backoff, which then doubles. The backoff has jitter so a fleet of tabs does not reconnect in lockstep
/// after an outage.
fn schedule_retry(rc: &Rc<RefCell<Inner>>, poll: bool) {
    let mut inner = rc.borrow_mut();
    if !inner.wanted_online || inner.reconnect_timer.is_some() {
        return;
    }
    let delay = if poll {
        HTTP_POLL_MS
    } else {
        let base = inner.backoff_ms;
        inner.backoff_ms = (base * 2).min(MAX_BACKOFF_MS);
        base + (js_sys::Math::random() * f64::from(base) / 2.0) as i32
    };
    // Never sooner than the server asked.
    let delay = delay.max(inner.retry_after_ms.take().unwrap_or(0));
    let weak = Rc::downgrade(rc);
    let retry = Closure::once_assert_unwind_safe(move || {
        if let Some(rc) = weak.upgrade() {
            connect(&rc);
        }
    })
    .into_js_value();
    inner.reconnect_timer = retry
        .dyn_ref::<js_sys::Function>()
        .and_then(|f| js::set_timeout(f, delay));
}

/// Sends the server whatever it still lacks: over the socket, or with an HTTP exchange.
pub fn pump(rc: &Rc<RefCell<Inner>>) {
    let transport = rc.borrow().transport;
    if transport == Transport::Http {
        http_sync(rc);
        return;
    }
    let mut inner = rc.borrow_mut();
    let inner = &mut *inner;
    let Some(socket) = &inner.socket else { return };
    if socket.ws.ready_state() != WebSocket::OPEN {
        return;
    }
    while let Some(message) = inner.session.cart.generate_sync_message(&mut inner.sync) {
        if socket.ws.send_with_u8_array(&message).is_err() {
            break;
        }
    }
}

/// Runs HTTP sync exchanges until neither side has news, then polls again later.
fn http_sync(rc: &Rc<RefCell<Inner>>) {
    {
        let mut inner = rc.borrow_mut();
        if inner.http_busy || !inner.wanted_online || inner.token_refused {
            return;
        }
        let wait = inner.not_before_ms - js::now_ms();
        if wait > 0 {
            // The server asked to wait: come back when it said (a `connect` meanwhile took the timer away).
            inner.retry_after_ms = Some(i32::try_from(wait).unwrap_or(i32::MAX));
            drop(inner);
            schedule_retry(rc, false);
            return;
        }
        inner.http_busy = true;
        // The server keeps no state between exchanges, so every round starts by announcing our heads again
        // (keeping only the heads both sides are known to share, so the announcement stays small), unless the last
        // run was cut short by a rate limit: then it resumes where it was, so a trickle of tokens still progresses.
        inner.sync = match inner.resume_sync.take() {
            Some(state) => state,
            None => SyncState::decode(&inner.sync.encode()).unwrap_or_default(),
        };
    }
    let rc = rc.clone();
    wasm_bindgen_futures::spawn_local(async move {
        let result = http_rounds(&rc).await;
        if let Err(Failure::UpgradeRequired) = result {
            rc.borrow_mut().http_busy = false;
            require_upgrade(&rc, "the server refused this library's cart layout (426)");
            return;
        }
        if let Err(Failure::Refused(code, message, token)) = &result {
            rc.borrow_mut().http_busy = false;
            if token_refused(&rc, token, code, message) {
                rc.borrow_mut().status = Status::Offline;
                emit(&rc, "status");
                return;
            }
        }
        if let Err(Failure::RetryAfter(ms)) = result {
            let mut inner = rc.borrow_mut();
            inner.retry_after_ms = Some(ms);
            inner.not_before_ms = js::now_ms() + i64::from(ms);
        }
        let status = if result.is_ok() {
            Status::Online
        } else {
            Status::Offline
        };
        let changed_status = {
            let mut inner = rc.borrow_mut();
            inner.http_busy = false;
            let changed = inner.status != status;
            inner.status = status;
            if result.is_ok() {
                inner.backoff_ms = MIN_BACKOFF_MS;
            }
            changed
        };
        if changed_status {
            emit(&rc, "status");
        }
        schedule_retry(&rc, result.is_ok());
    });
}

/// Why an HTTP exchange failed.
enum Failure {
    /// The server is rate limiting this client: wait this many ms.
    RetryAfter(i32),
    /// The server refused this library's cart layout (426).
    UpgradeRequired,
    /// The server refused the user's token (401): its error code and message, and the token.
    Refused(String, String, String),
    Other,
}

impl From<JsValue> for Failure {
    fn from(_: JsValue) -> Self {
        Failure::Other
    }
}

/// The first whole number in `text` ("RATE_LIMITED: retry in 3 s" -> 3).
fn seconds_in(text: &str) -> Option<i32> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|s| !s.is_empty())
        .and_then(|s| s.parse::<i32>().ok())
        .map(|s| s.clamp(1, 3600))
}

async fn http_rounds(rc: &Rc<RefCell<Inner>>) -> Result<(), Failure> {
    for _ in 0..20 {
        let (url, message, token, before) = {
            let mut inner = rc.borrow_mut();
            let inner = &mut *inner;
            let url = format!("{}{}", inner.base_url, path(&inner.session.who, false));
            let before = inner.sync.clone();
            let token = match &inner.session.who {
                Who::User { token, .. } => Some(token.clone()),
                Who::Guest { .. } => None,
            };
            (
                url,
                inner.session.cart.generate_sync_message(&mut inner.sync),
                token,
                before,
            )
        };
        let Some(message) = message else {
            return Ok(());
        };
        let reply = match post(&url, &message, token.as_deref()).await {
            Ok(reply) => reply,
            Err(Failure::RetryAfter(ms)) => {
                rc.borrow_mut().resume_sync = Some(before);
                return Err(Failure::RetryAfter(ms));
            }
            Err(e) => return Err(e),
        };
        if !reply.is_empty() {
            receive(rc, &reply);
        }
    }
    Ok(())
}

async fn post(url: &str, body: &[u8], token: Option<&str>) -> Result<Vec<u8>, Failure> {
    let init = js_sys::Object::new();
    js::set(&init, "method", &"POST".into());
    js::set(&init, "body", &js_sys::Uint8Array::from(body).into());
    let headers = js_sys::Object::new();
    js::set(&headers, "content-type", &"application/octet-stream".into());
    if let Some(token) = token {
        js::set(&headers, "authorization", &format!("Bearer {token}").into());
    }
    js::set(&init, "headers", &headers);
    let fetch: js_sys::Function = js::global("fetch").dyn_into()?;
    let response = JsFuture::from(js_sys::Promise::from(fetch.call2(
        &JsValue::UNDEFINED,
        &url.into(),
        &init,
    )?))
    .await?;
    busy(&response)?;
    if js::get(&response, "status").as_f64() == Some(426.0) {
        return Err(Failure::UpgradeRequired);
    }
    refusal(&response, token.unwrap_or_default()).await?;
    if js::get(&response, "ok").as_bool() != Some(true) {
        return Err(Failure::Other);
    }
    let array_buffer: js_sys::Function = js::get(&response, "arrayBuffer").dyn_into()?;
    let buffer = JsFuture::from(js_sys::Promise::from(array_buffer.call0(&response)?)).await?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}
