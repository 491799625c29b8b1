//! `CartObject`: the Durable Object holding one cart.
//!
//! Thin by design: each request or socket message is one core operation, then a durable incremental write, then
//! the reply and a push to every connected socket. Storage is synchronous SQLite, so after the request body is read
//! nothing awaits: no `RefCell` borrow can span an `.await`.

use std::cell::RefCell;
use std::collections::HashMap;

use cart_core::{ActorId, Cart, MergePolicy, SyncError, SyncState};
use serde::Serialize;
use worker::{
    durable_object, DurableObject, Env, Method, Request, Response, SqlStorageValue, State,
    WebSocket, WebSocketIncomingMessage, WebSocketPair,
};

use crate::error::{ApiError, ApiResult};
use crate::protocol::{self, op};
use crate::store::Store;
use crate::view::{json_view, MAX_SYNC_BYTES};

/// Milliseconds since the Unix epoch, from the runtime's clock.
pub fn now_ms() -> i64 {
    worker::Date::now().as_millis() as i64
}

#[durable_object]
pub struct CartObject {
    state: State,
    /// The cart, loaded from storage on first use.
    live: RefCell<Option<Live>>,
    /// Sync state per connected socket, by socket tag. Rebuilt from socket attachments after hibernation.
    peers: RefCell<HashMap<String, SyncState>>,
}

struct Live {
    cart: Cart,
    store: Store,
    /// Whether this object's actor id is already in storage.
    actor_saved: bool,
    actor: ActorId,
    merged_at: Option<i64>,
}

impl DurableObject for CartObject {
    fn new(state: State, _env: Env) -> Self {
        CartObject {
            state,
            live: RefCell::new(None),
            peers: RefCell::new(HashMap::new()),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let path = req.path();
        let body = if req.method() == Method::Post {
            req.bytes().await?
        } else {
            Vec::new()
        };
        // Nothing below awaits.
        match self.handle(&path, &req, body) {
            Ok(response) => Ok(response),
            Err(e) => e.to_response(),
        }
    }

    async fn websocket_message(
        &self,
        ws: WebSocket,
        message: WebSocketIncomingMessage,
    ) -> worker::Result<()> {
        self.on_socket_message(&ws, message);
        Ok(())
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
        let cart_id = req
            .headers()
            .get(protocol::CART_ID_HEADER)?
            .unwrap_or_default();
        match path {
            op::VIEW => {
                let if_none_match = req.headers().get("if-none-match")?;
                self.view(&cart_id, if_none_match.as_deref())
            }
            op::ADD => {
                let cmd: protocol::Add = internal_json(&body)?;
                self.edit(|cart| Ok(cart.add(&cmd.sku, cmd.qty)?))?;
                self.view(&cart_id, None)
            }
            op::PATCH => {
                let cmd: protocol::Patch = internal_json(&body)?;
                self.edit(|cart| {
                    if let Some(qty) = cmd.qty {
                        cart.set_quantity(&cmd.sku, qty)?;
                    }
                    if let (Some(selected), false) = (cmd.selected, cmd.qty == Some(0)) {
                        cart.set_selected(&cmd.sku, selected)?;
                    }
                    Ok(())
                })?;
                self.view(&cart_id, None)
            }
            op::REMOVE => {
                let cmd: protocol::Remove = internal_json(&body)?;
                self.edit(|cart| Ok(cart.remove(&cmd.sku)?))?;
                self.view(&cart_id, None)
            }
            op::SYNC => self.http_sync(body),
            op::SOCKET => self.accept_socket(req),
            op::SAVE => {
                let bytes = self.with_live(|live| Ok(live.cart.encode()))?;
                Ok(Response::from_bytes(bytes)?)
            }
            op::MERGE_GUEST => {
                let policy = match req.headers().get(protocol::POLICY_HEADER)?.as_deref() {
                    Some("sum") => MergePolicy::Sum,
                    _ => MergePolicy::Max,
                };
                let guest =
                    Cart::load(&body).map_err(|e| ApiError::internal("guest cart bytes", e))?;
                let report = self.edit(|cart| Ok(cart.merge_guest(&guest, policy)?))?;
                let view = self
                    .with_live(|live| Ok(json_view(&cart_id, &live.cart.view(), live.merged_at)))?;
                #[derive(Serialize)]
                struct Merged {
                    merged: cart_core::MergeReport,
                    cart: serde_json::Value,
                }
                Ok(Response::from_json(&Merged {
                    merged: report,
                    cart: view,
                })?)
            }
            op::MARK_MERGED => {
                self.with_live(|live| {
                    if live.merged_at.is_none() {
                        let now = now_ms();
                        live.store
                            .set_meta("mergedAt", SqlStorageValue::Integer(now))?;
                        live.merged_at = Some(now);
                    }
                    Ok(())
                })?;
                self.view(&cart_id, None)
            }
            op::STORAGE => {
                let stats = self.with_live(|live| live.store.stats())?;
                Ok(Response::from_json(&stats)?)
            }
            _ => Err(ApiError::not_found()),
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
        let actor = saved_actor.unwrap_or_else(ActorId::random);
        let mut cart = if stored.is_empty() {
            Cart::with_actor(actor.clone())
        } else {
            let mut cart = Cart::load(&stored).map_err(|e| ApiError::internal("stored cart", e))?;
            cart.set_actor(actor.clone());
            cart
        };
        cart.set_clock(now_ms);
        let merged_at = match store.meta("mergedAt")? {
            Some(SqlStorageValue::Integer(ms)) => Some(ms),
            Some(SqlStorageValue::Float(ms)) => Some(ms as i64),
            _ => None,
        };
        Ok(Live {
            cart,
            store,
            actor_saved,
            actor,
            merged_at,
        })
    }

    /// One core operation, a durable write of what it changed, then a push to every socket.
    fn edit<T>(&self, op: impl FnOnce(&mut Cart) -> ApiResult<T>) -> ApiResult<T> {
        let (out, changed) = self.apply(op)?;
        if changed {
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
            // An Err from the core means the cart is unchanged: nothing to write.
            let out = op(&mut live.cart)?;
            let bytes = live.cart.save_incremental();
            if !bytes.is_empty() {
                if let Err(e) = persist(live, &bytes) {
                    *slot = None;
                    return Err(e);
                }
            }
            Ok((out, !bytes.is_empty()))
        }
    }

    fn view(&self, cart_id: &str, if_none_match: Option<&str>) -> ApiResult<Response> {
        let (body, version) = self.with_live(|live| {
            let view = live.cart.view();
            let version = view.version_tag();
            Ok((json_view(cart_id, &view, live.merged_at), version))
        })?;
        let etag = format!("\"{version}\"");
        if if_none_match
            .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
        {
            let mut response = Response::empty()?.with_status(304);
            response.headers_mut().set("ETag", &etag)?;
            return Ok(response);
        }
        let mut response = Response::from_json(&body)?;
        response.headers_mut().set("ETag", &etag)?;
        Ok(response)
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

    /// Sends every connected socket whatever its peer still lacks.
    fn push_all(&self) {
        for ws in self.state.get_websockets() {
            self.push_to(&ws);
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

/// Appends an incremental save, compacting when the increments have outgrown the snapshot.
fn persist(live: &mut Live, bytes: &[u8]) -> ApiResult<()> {
    if !live.actor_saved {
        live.store.set_meta(
            "actor",
            SqlStorageValue::Blob(live.actor.to_bytes().to_vec()),
        )?;
        live.actor_saved = true;
    }
    live.store.append(bytes)?;
    if live.store.wants_compaction() {
        let snapshot = live.cart.save();
        live.store.compact(&snapshot)?;
    }
    Ok(())
}

fn sync_error(e: SyncError) -> ApiError {
    match e {
        SyncError::Malformed(m) => ApiError::new(400, "MALFORMED_SYNC_MESSAGE", m),
        SyncError::Rejected(e) => ApiError::new(400, "SYNC_REJECTED", e.to_string()),
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
