//! `CartObject`: the Durable Object holding one cart.
//!
//! Thin by design: each request or socket message is one core operation, then a durable incremental write, then
//! the reply and a push to every connected socket. Storage is synchronous SQLite, so after the request body is read
//! nothing awaits: no `RefCell` borrow can span an `.await`.
//!
//! A read on an object that has not loaded its cart is answered from the stored read model when there is one
//! (`store::VIEW_KEY`), without loading the Automerge document; anything else loads the document first.

mod commerce;
#[cfg(feature = "dev")]
mod dev;
mod idempotency;
mod txn;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use cart_core::{ActorId, Cart, CartView, MergePolicy, Op, SyncError, SyncState};
use serde::Serialize;
use worker::{
    durable_object, DurableObject, Env, Method, Request, Response, SqlStorageValue, State,
    WebSocket, WebSocketIncomingMessage, WebSocketPair,
};

use crate::error::{ApiError, ApiResult};
use crate::expiry::Kind;
use crate::protocol::{self, op};
use crate::ratelimit::{self, Bucket, Rate};
use crate::store::{self, Store};
use crate::view::{json_view, MAX_SYNC_BYTES};

/// Most sockets open on one cart at a time (every write is pushed to each).
pub const MAX_SOCKETS: usize = 32;

/// Milliseconds since the Unix epoch, from the runtime's clock.
pub fn now_ms() -> i64 {
    worker::Date::now().as_millis() as i64
}

#[durable_object]
pub struct CartObject {
    state: State,
    env: Env,
    /// The cart, loaded from storage on first use.
    live: RefCell<Option<Live>>,
    /// Sync state per connected socket, by socket tag. Rebuilt from socket attachments after hibernation.
    peers: RefCell<HashMap<String, SyncState>>,
    /// This cart's write bucket (in memory: a restarted object starts with a full bucket).
    bucket: RefCell<Option<Bucket>>,
    rate: Rate,
    /// Set by a durable write; the handler makes sure the expiry alarm is armed before it answers.
    dirty: Cell<bool>,
    /// Whether this instance has armed the alarm. An alarm that fires before the cart's (later) expiry time just
    /// re-arms itself, so later writes need no storage call.
    alarm_armed: Cell<bool>,
    /// What the front worker says this object holds (used until storage knows).
    kind_hint: Cell<Option<Kind>>,
    /// Dev builds: how many more storage statements run before one fails (`store::fault`).
    #[cfg(feature = "dev")]
    fault: Cell<Option<u32>>,
}

// wasm-bindgen's exports catch panics too, and ask for unwind safety: a panic in this object's handlers stops at
// `CartObject::contained`, which drops the cart, so nothing half-done in it is used again.
impl std::panic::UnwindSafe for CartObject {}
impl std::panic::RefUnwindSafe for CartObject {}

struct Live {
    cart: Cart,
    store: Store,
    /// Whether this object's actor id is already in storage.
    actor_saved: bool,
    actor: ActorId,
    meta: Meta,
    /// Whether writes keep the read model (see `store::READ_MODEL_BYTES`).
    keeps_view: bool,
}

/// The cart's meta rows other than the actor: what a read needs besides the lines, and so all a cold read or an
/// alarm reads.
struct Meta {
    merged_at: Option<i64>,
    /// Time of the last durable write, or `None` for an object never written (or expired and deleted).
    touched_at: Option<i64>,
    /// What this object holds, once known (from storage, or the front worker's hint).
    kind: Option<Kind>,
    /// Whether `kind` is in storage.
    kind_saved: bool,
}

impl Meta {
    /// Reads the rows; where storage holds no kind yet, `hint` stands in.
    fn read(store: &Store, hint: Option<Kind>) -> ApiResult<Meta> {
        let stored_kind = match store.meta("kind")? {
            Some(SqlStorageValue::String(k)) => Kind::parse(&k),
            _ => None,
        };
        Ok(Meta {
            merged_at: store::integer(store.meta("mergedAt")?),
            touched_at: store::integer(store.meta("touchedAt")?),
            kind_saved: stored_kind.is_some(),
            kind: stored_kind.or(hint),
        })
    }

    /// When this cart expires if nothing else is written.
    fn expires_at(&self, env: &Env) -> Option<i64> {
        Some(self.touched_at? + self.kind.unwrap_or(Kind::Guest).ttl_ms(env))
    }
}

impl DurableObject for CartObject {
    fn new(state: State, env: Env) -> Self {
        let rate = Rate::from_env(&env, "CART", ratelimit::CART_DEFAULT);
        CartObject {
            state,
            env,
            live: RefCell::new(None),
            peers: RefCell::new(HashMap::new()),
            bucket: RefCell::new(None),
            rate,
            dirty: Cell::new(false),
            alarm_armed: Cell::new(false),
            kind_hint: Cell::new(None),
            #[cfg(feature = "dev")]
            fault: Cell::new(None),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let path = req.path();
        let body = if req.method() == Method::Post {
            req.bytes().await?
        } else {
            Vec::new()
        };
        // No borrow is held across an await: `handle` is synchronous, and the alarm is armed after it returned.
        #[cfg(feature = "dev")]
        store::fault::arm(self.fault.take());
        let handled = self.contained(|| self.handle(&path, &req, body));
        // Statements not yet counted carry over to the object's next command (a request may send several).
        #[cfg(feature = "dev")]
        self.fault.set(store::fault::left());
        let response = match handled {
            Ok(response) => response,
            Err(e) => e.to_response()?,
        };
        self.arm_expiry().await?;
        Ok(response)
    }

    /// Deletes the cart if it has been idle for its whole TTL; otherwise waits for the new expiry time.
    async fn alarm(&self) -> worker::Result<Response> {
        match self.expires_at() {
            Some(at) if at <= now_ms() => {
                for ws in self.state.get_websockets() {
                    let _ = ws.close(
                        Some(1001),
                        Some("CART_EXPIRED: the cart expired after being idle"),
                    );
                }
                self.peers.borrow_mut().clear();
                *self.live.borrow_mut() = None;
                self.alarm_armed.set(false);
                self.state.storage().delete_all().await?;
            }
            // Written to since the alarm was set: wait for the new expiry time.
            Some(at) => self.state.storage().set_alarm(at - now_ms()).await?,
            None => self.alarm_armed.set(false),
        }
        Response::ok("")
    }

    async fn websocket_message(
        &self,
        ws: WebSocket,
        message: WebSocketIncomingMessage,
    ) -> worker::Result<()> {
        let handled = self.contained(|| {
            self.on_socket_message(&ws, message);
            Ok(())
        });
        if let Err(e) = handled {
            let _ = ws.close(Some(1011), Some(&format!("{}: {}", e.code, e.message)));
        }
        self.arm_expiry().await
    }

    async fn websocket_close(
        &self,
        ws: WebSocket,
        _code: usize,
        _reason: String,
        _clean: bool,
    ) -> worker::Result<()> {
        if let Some(tag) = self.tag(&ws) {
            self.peers.borrow_mut().remove(&tag);
        }
        let _ = ws.close(Some(1000), Some("closed"));
        Ok(())
    }

    async fn websocket_error(&self, ws: WebSocket, _error: worker::Error) -> worker::Result<()> {
        if let Some(tag) = self.tag(&ws) {
            self.peers.borrow_mut().remove(&tag);
        }
        Ok(())
    }
}

impl CartObject {
    fn handle(&self, path: &str, req: &Request, body: Vec<u8>) -> ApiResult<Response> {
        #[cfg(feature = "dev")]
        if let Some(response) = self.dev_command(path, &body)? {
            return Ok(response);
        }
        let cart_id = req
            .headers()
            .get(protocol::CART_ID_HEADER)?
            .unwrap_or_default();
        if let Some(kind) = req
            .headers()
            .get(protocol::KIND_HEADER)?
            .as_deref()
            .and_then(Kind::parse)
        {
            // Not a reason to load the cart: a loaded cart takes it now, a later load from the hint.
            self.kind_hint.set(Some(kind));
            if let Some(live) = self.live.borrow_mut().as_mut() {
                live.meta.kind.get_or_insert(kind);
            }
        }
        if matches!(
            path,
            op::ADD | op::PATCH | op::REMOVE | op::OPS | op::SYNC | op::MERGE_GUEST | op::CHECKOUT
        ) {
            // One token per command: a batch of 250 operations costs what one add does (it is one change).
            self.take_token()
                .map_err(|after| ratelimit::limited("cart", after))?;
        }
        match path {
            op::VIEW => {
                if let Some(response) = self.cold_view(&cart_id)? {
                    return Ok(response);
                }
                self.view(&cart_id)
            }
            op::ADD => self.keyed(req, || {
                let cmd: protocol::Add = internal_json(&body)?;
                self.edit(|cart| Ok(cart.add(&cmd.sku, cmd.qty)?))?;
                Ok((200, self.view_json(&cart_id)?))
            }),
            op::PATCH => self.keyed(req, || {
                let cmd: protocol::Patch = internal_json(&body)?;
                let sku = || cmd.sku.clone();
                let mut ops = Vec::new();
                if let Some(qty) = cmd.qty {
                    ops.push(Op::Set { sku: sku(), qty });
                }
                if let (Some(selected), false) = (cmd.selected, cmd.qty == Some(0)) {
                    ops.push(Op::Select {
                        sku: sku(),
                        selected,
                    });
                }
                // One change for both.
                self.edit(|cart| cart.apply(&ops).map_err(|e| ApiError::from(e.error)))?;
                Ok((200, self.view_json(&cart_id)?))
            }),
            op::REMOVE => self.keyed(req, || {
                let cmd: protocol::Remove = internal_json(&body)?;
                self.edit(|cart| Ok(cart.remove(&cmd.sku)?))?;
                Ok((200, self.view_json(&cart_id)?))
            }),
            op::OPS => self.keyed(req, || {
                let ops = crate::input::ops(&body)?;
                self.edit(|cart| Ok(cart.apply(&ops)?))?;
                Ok((200, self.view_json(&cart_id)?))
            }),
            op::SYNC => self.http_sync(body),
            op::SOCKET => self.accept_socket(req),
            op::SAVE => {
                let bytes = self.with_live(|live| Ok(live.cart.encode()))?;
                Ok(Response::from_bytes(bytes)?)
            }
            op::MERGE_GUEST => self.keyed(req, || {
                let policy = match req.headers().get(protocol::POLICY_HEADER)?.as_deref() {
                    Some("sum") => MergePolicy::Sum,
                    _ => MergePolicy::Max,
                };
                let source = req
                    .headers()
                    .get(protocol::SOURCE_HEADER)?
                    .ok_or_else(|| ApiError::internal("merge source", "missing"))?;
                let guest =
                    Cart::load(&body).map_err(|e| ApiError::internal("guest cart bytes", e))?;
                let report = self.edit(|cart| Ok(cart.merge_guest(&guest, &source, policy)?))?;
                #[derive(Serialize)]
                struct Merged<'a> {
                    merged: cart_core::MergeReport,
                    cart: crate::view::JsonView<'a>,
                }
                let merged = self.with_live(|live| {
                    let view = live.cart.view();
                    let cart = json_view(
                        &cart_id,
                        &view,
                        live.meta.merged_at,
                        live.meta.expires_at(&self.env),
                    );
                    encode_json(&Merged {
                        merged: report,
                        cart,
                    })
                })?;
                Ok((200, merged))
            }),
            op::MARK_MERGED => {
                let wrote = self.with_live(|live| {
                    // Already marked; or never written, and a read (the merge read it) creates nothing.
                    if live.meta.merged_at.is_some() || live.meta.touched_at.is_none() {
                        return Ok(false);
                    }
                    // A write like any other: it touches the cart, so the expiry alarm covers it.
                    let now = now_ms();
                    live.store.set_metas(vec![
                        ("mergedAt", SqlStorageValue::Integer(now)),
                        ("touchedAt", SqlStorageValue::Integer(now)),
                    ])?;
                    live.meta.merged_at = Some(now);
                    live.meta.touched_at = Some(now);
                    Ok(true)
                })?;
                if wrote {
                    self.dirty.set(true);
                }
                self.view(&cart_id)
            }
            op::CHECKOUT => self.checkout(&internal_json(&body)?),
            op::CHECKOUT_GET => {
                let id = req
                    .headers()
                    .get(protocol::CHECKOUT_ID_HEADER)?
                    .unwrap_or_default();
                self.checkout_get(&id)
            }
            op::SHARE_PUT => self.share_put(&body),
            op::SHARED_VIEW => {
                self.shared_exists()?;
                self.view(&cart_id)
            }
            op::SHARED_SAVE => {
                self.shared_exists()?;
                let bytes = self.with_live(|live| Ok(live.cart.encode()))?;
                Ok(Response::from_bytes(bytes)?)
            }
            _ => Err(ApiError::not_found()),
        }
    }

    /// Runs one synchronous handler so that a panic anywhere in it (the shipped wasm unwinds, see
    /// `scripts/versions.sh`) is answered `500 INTERNAL` and the cart is dropped, to be loaded again from storage by
    /// the next request: whatever the handler had half-done in memory is gone, and storage holds only what earlier
    /// answers said it holds. The other objects of the isolate never notice. (Automerge's panics on outside bytes
    /// are contained earlier, in cart-core, and answered `400 AUTOMERGE_PANIC`.)
    fn contained<T>(&self, f: impl FnOnce() -> ApiResult<T>) -> ApiResult<T> {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            Ok(result) => result,
            Err(_) => {
                // Every borrow `f` held was released while unwinding.
                *self.live.borrow_mut() = None;
                Err(ApiError::internal(
                    "handler",
                    "panicked; the cart is reloaded from storage",
                ))
            }
        }
    }

    /// Runs `f` on the loaded cart, loading it from storage first if needed.
    fn with_live<T>(&self, f: impl FnOnce(&mut Live) -> ApiResult<T>) -> ApiResult<T> {
        let mut slot = self.live.borrow_mut();
        let live = match &mut *slot {
            Some(live) => live,
            empty => empty.insert(self.load()?),
        };
        f(live)
    }

    fn load(&self) -> ApiResult<Live> {
        let mut store = Store::open(self.state.storage().sql())?;
        let stored = store.load()?;
        let saved_actor = match store.meta("actor")? {
            Some(SqlStorageValue::Blob(bytes)) if !bytes.is_empty() => Some(ActorId::from(bytes)),
            _ => None,
        };
        let actor_saved = saved_actor.is_some();
        let actor = saved_actor.unwrap_or_else(cart_core::new_actor);
        let mut cart = if stored.is_empty() {
            Cart::with_actor(actor.clone())
        } else {
            let mut cart = Cart::load(&stored).map_err(|e| ApiError::internal("stored cart", e))?;
            cart.set_actor(actor.clone());
            cart
        };
        cart.set_clock(now_ms);
        let meta = Meta::read(&store, self.kind_hint.get())?;
        let keeps_view = store.meta(store::VIEW_KEY)?.is_some();
        Ok(Live {
            cart,
            store,
            actor_saved,
            actor,
            meta,
            keeps_view,
        })
    }

    /// When the cart expires if nothing else is written: from the loaded cart, or else from the meta rows alone
    /// (an alarm waking a cold object does not load the document).
    fn expires_at(&self) -> Option<i64> {
        if let Some(live) = self.live.borrow().as_ref() {
            return live.meta.expires_at(&self.env);
        }
        let store = Store::open(self.state.storage().sql()).ok()?;
        Meta::read(&store, self.kind_hint.get())
            .ok()?
            .expires_at(&self.env)
    }

    /// Takes one token from this cart's write bucket, or says how many seconds until one is there.
    fn take_token(&self) -> Result<(), u64> {
        let now = now_ms();
        let mut bucket = self.bucket.borrow_mut();
        bucket
            .get_or_insert_with(|| Bucket::full(self.rate, now))
            .take(self.rate, now)
    }

    /// After the first durable write of this instance, arms the alarm for the expiry time. No borrow is held
    /// across the await.
    async fn arm_expiry(&self) -> worker::Result<()> {
        if !self.dirty.replace(false) || self.alarm_armed.get() {
            return Ok(());
        }
        if let Some(at) = self.expires_at() {
            self.state
                .storage()
                .set_alarm((at - now_ms()).max(0))
                .await?;
            self.alarm_armed.set(true);
        }
        Ok(())
    }

    /// One core operation, a durable write of what it changed, then a push to every socket.
    fn edit<T>(&self, op: impl FnOnce(&mut Cart) -> ApiResult<T>) -> ApiResult<T> {
        let (out, changed) = self.apply(op)?;
        if changed && !txn::defer_push() {
            self.push_all();
        }
        Ok(out)
    }

    /// One core operation and a durable write of what it changed; returns whether anything changed. Replies are
    /// sent only after this returns: a 2xx means the change is in storage. If the write fails, the in-memory cart
    /// is dropped so the next request reloads what storage really holds.
    fn apply<T>(&self, op: impl FnOnce(&mut Cart) -> ApiResult<T>) -> ApiResult<(T, bool)> {
        let mut slot = self.live.borrow_mut();
        {
            let live = match &mut *slot {
                Some(live) => live,
                empty => empty.insert(self.load()?),
            };
            // An Err from the core means the cart is unchanged: nothing to write. One exception: Automerge panicked
            // inside the core (contained, see cart-core's `unwind.rs`) and the cart may hold part of the input, so
            // it is dropped and the next request loads what storage holds, which never saw that input.
            let out = match op(&mut live.cart) {
                Ok(out) => out,
                Err(e) => {
                    if live.cart.poisoned() {
                        *slot = None;
                    }
                    return Err(e);
                }
            };
            // A cart that holds only the genesis every cart shares (a sync read of a never-written cart) is not
            // stored: reads create nothing. Its first real write stores the genesis with it.
            if live.cart.is_untouched() {
                return Ok((out, false));
            }
            let bytes = live.cart.save_incremental();
            if !bytes.is_empty() {
                // One transaction: the change, a compaction, the meta rows and the read model commit together.
                if let Err(e) = self.transaction(|| persist(live, &bytes)) {
                    *slot = None;
                    return Err(e);
                }
                self.dirty.set(true);
            }
            Ok((out, !bytes.is_empty()))
        }
    }

    fn view(&self, cart_id: &str) -> ApiResult<Response> {
        view_response(self.view_json(cart_id)?)
    }

    /// The cart's JSON view, unpriced, as text.
    fn view_json(&self, cart_id: &str) -> ApiResult<String> {
        self.with_live(|live| {
            encode_json(&json_view(
                cart_id,
                &live.cart.view(),
                live.meta.merged_at,
                live.meta.expires_at(&self.env),
            ))
        })
    }

    /// A read on an object whose cart is not loaded, answered from the read model; `None` when there is none (or
    /// it is unreadable), and the caller loads the document instead.
    fn cold_view(&self, cart_id: &str) -> ApiResult<Option<Response>> {
        if self.live.borrow().is_some() {
            return Ok(None);
        }
        let store = Store::open(self.state.storage().sql())?;
        let Some(SqlStorageValue::String(json)) = store.meta(store::VIEW_KEY)? else {
            return Ok(None);
        };
        if store.view_seq()? != Some(store.last_change_seq()?) {
            worker::console_warn!(
                "the read model is behind the stored changes; loading the document"
            );
            return Ok(None);
        }
        let view: CartView = match serde_json::from_str(&json) {
            Ok(view) => view,
            Err(e) => {
                worker::console_warn!("unreadable read model, loading the document: {e}");
                return Ok(None);
            }
        };
        let meta = Meta::read(&store, self.kind_hint.get())?;
        let body = encode_json(&json_view(
            cart_id,
            &view,
            meta.merged_at,
            meta.expires_at(&self.env),
        ))?;
        view_response(body).map(Some)
    }

    /// One exchange of the sync protocol over HTTP: receive the client's message with a fresh server-side state,
    /// answer with the server's next message (empty body when there is nothing to say).
    fn http_sync(&self, body: Vec<u8>) -> ApiResult<Response> {
        let mut state = SyncState::new();
        let reply = self.edit(|cart| {
            cart.receive_sync_message(&mut state, &body)
                .map_err(sync_error)?;
            Ok(cart.generate_sync_message(&mut state))
        })?;
        let mut response = Response::from_bytes(reply.unwrap_or_default())?;
        response
            .headers_mut()
            .set("content-type", "application/octet-stream")?;
        Ok(response)
    }

    fn accept_socket(&self, req: &Request) -> ApiResult<Response> {
        let upgrade = req.headers().get("upgrade")?.unwrap_or_default();
        if !upgrade.eq_ignore_ascii_case("websocket") {
            return Err(ApiError::new(
                426,
                "UPGRADE_REQUIRED",
                "this route speaks WebSocket; send Upgrade: websocket",
            ));
        }
        // Each socket gets every write pushed: at most MAX_SOCKETS per cart, and opening one costs a write token.
        if self.state.get_websockets().len() >= MAX_SOCKETS {
            return Err(ApiError::new(
                429,
                "TOO_MANY_SOCKETS",
                format!("this cart has {MAX_SOCKETS} open sockets; close one, or sync over HTTP"),
            )
            .retry_after(5));
        }
        if let Err(after) = self.take_token() {
            return Err(ratelimit::limited("cart", after));
        }
        let pair = WebSocketPair::new()?;
        let tag = ActorId::random().to_hex_string();
        self.state
            .accept_websocket_with_tags(&pair.server, &[tag.as_str()]);
        self.peers.borrow_mut().insert(tag, SyncState::new());
        // Speak first: the client learns our heads without waiting.
        self.push_to(&pair.server);
        Ok(Response::from_websocket(pair.client)?)
    }

    fn on_socket_message(&self, ws: &WebSocket, message: WebSocketIncomingMessage) {
        let bytes = match message {
            WebSocketIncomingMessage::Binary(bytes) => bytes,
            WebSocketIncomingMessage::String(_) => {
                let _ = ws.close(
                    Some(1003),
                    Some("UNSUPPORTED_DATA: send binary Automerge sync messages"),
                );
                return;
            }
        };
        if bytes.len() > MAX_SYNC_BYTES {
            let _ = ws.close(
                Some(1009),
                Some("PAYLOAD_TOO_LARGE: sync messages are limited to 1 MiB"),
            );
            return;
        }
        let Some(tag) = self.tag(ws) else {
            let _ = ws.close(Some(1011), Some("INTERNAL: unknown socket"));
            return;
        };
        if let Err(after) = self.take_token() {
            // 1013 "try again later": the client reconnects after its backoff, at least `after` seconds.
            let _ = ws.close(
                Some(1013),
                Some(&format!("RATE_LIMITED: retry in {after} s")),
            );
            return;
        }
        let mut state = self.peer_state(&tag, ws);
        let received = self.apply(|cart| {
            cart.receive_sync_message(&mut state, &bytes)
                .map_err(sync_error)
        });
        self.peers.borrow_mut().insert(tag, state);
        match received {
            // Everyone hears of a change; otherwise only the sender gets its reply.
            Ok(((), true)) => self.push_all(),
            Ok(((), false)) => self.push_to(ws),
            Err(e) => {
                let reason = format!("{}: {}", e.code, e.message);
                let _ = ws.close(
                    Some(if e.status >= 500 { 1011 } else { 1007 }),
                    Some(truncate(&reason, 120)),
                );
            }
        }
    }

    /// Sends every connected socket whatever its peer still lacks. It runs after a write committed, so a panic in it
    /// must not turn that write's answer into an error: the sockets' sync states start over instead (each peer
    /// resyncs), and the cart is loaded again.
    fn push_all(&self) {
        let pushed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for ws in self.state.get_websockets() {
                self.push_to(&ws);
            }
        }));
        if pushed.is_err() {
            worker::console_error!("a push to the sockets panicked; their sync states start over");
            self.peers.borrow_mut().clear();
            *self.live.borrow_mut() = None;
        }
    }

    fn push_to(&self, ws: &WebSocket) {
        let Some(tag) = self.tag(ws) else { return };
        let mut state = self.peer_state(&tag, ws);
        let message = self.with_live(|live| Ok(live.cart.generate_sync_message(&mut state)));
        if let Ok(Some(bytes)) = message {
            // A socket that is closing cannot be sent to; its close handler cleans up.
            let _ = ws.send_with_bytes(bytes);
        }
        let _ = ws.serialize_attachment(state.encode());
        self.peers.borrow_mut().insert(tag, state);
    }

    /// The socket's sync state: in memory, or after hibernation the part kept in the socket's attachment.
    fn peer_state(&self, tag: &str, ws: &WebSocket) -> SyncState {
        if let Some(state) = self.peers.borrow_mut().remove(tag) {
            return state;
        }
        ws.deserialize_attachment::<Vec<u8>>()
            .ok()
            .flatten()
            .and_then(|bytes| SyncState::decode(&bytes).ok())
            .unwrap_or_default()
    }

    fn tag(&self, ws: &WebSocket) -> Option<String> {
        self.state.get_tags(ws).into_iter().next()
    }
}

/// The JSON view, unpriced: the front worker prices it and derives the `ETag` from the priced body
/// (`routes::finish`), so a price or stock change is a new `ETag` too.
fn view_response(body: String) -> ApiResult<Response> {
    idempotency::json_response(200, body)
}

/// `body` as JSON text, written straight from its type (no `serde_json::Value` in between).
fn encode_json<T: Serialize>(body: &T) -> ApiResult<String> {
    serde_json::to_string(body).map_err(|e| ApiError::internal("encode answer", e))
}

/// Appends an incremental save, compacting when the increments have outgrown the snapshot, and rewrites the read
/// model when the cart keeps one: all one transaction (nothing awaits in between).
fn persist(live: &mut Live, bytes: &[u8]) -> ApiResult<()> {
    live.store.append(bytes)?;
    if live.store.wants_compaction() {
        let snapshot = live.cart.save();
        live.store.compact(&snapshot)?;
    }
    let now = now_ms();
    let mut rows = vec![("touchedAt", SqlStorageValue::Integer(now))];
    if !live.actor_saved {
        rows.push((
            "actor",
            SqlStorageValue::Blob(live.actor.to_bytes().to_vec()),
        ));
    }
    let unsaved_kind = live.meta.kind.filter(|_| !live.meta.kind_saved);
    if let Some(kind) = unsaved_kind {
        rows.push(("kind", SqlStorageValue::from(kind.name())));
    }
    live.keeps_view |= live.store.document_bytes() >= store::READ_MODEL_BYTES;
    if live.keeps_view {
        let view = serde_json::to_string(&live.cart.view())
            .map_err(|e| ApiError::internal("read model", e))?;
        rows.push((store::VIEW_KEY, SqlStorageValue::String(view)));
        let seq = live.store.last_change_seq()?;
        rows.push((store::VIEW_SEQ_KEY, SqlStorageValue::Integer(seq)));
    }
    live.store.set_metas(rows)?;
    live.meta.touched_at = Some(now);
    live.actor_saved = true;
    live.meta.kind_saved |= unsaved_kind.is_some();
    Ok(())
}

fn sync_error(e: SyncError) -> ApiError {
    match e {
        SyncError::Malformed(m) => ApiError::new(400, "MALFORMED_SYNC_MESSAGE", m),
        SyncError::InvalidChange(e) => ApiError::new(400, "INVALID_CHANGE", e.to_string()),
        SyncError::Rejected(e) => ApiError::new(400, "SYNC_REJECTED", e.to_string()),
        SyncError::Panicked(e) => ApiError::new(400, "AUTOMERGE_PANIC", e.to_string()),
    }
}

fn internal_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(body).map_err(|e| ApiError::internal("internal command", e))
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
