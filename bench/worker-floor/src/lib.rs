//! The smallest Worker that does what the cart worker needs its platform for: route a request to a Durable Object,
//! keep an Automerge document in the object's SQLite storage, answer JSON, and speak the sync protocol on a
//! hibernating WebSocket. `make bundle-size` builds it the same way as the real worker (worker-build, the same
//! profile and flags, wasm-opt stripping); its size is the floor under the cart worker's bundle.

use automerge::{
    sync::{self, SyncDoc},
    transaction::Transactable,
    Automerge, ReadDoc, ROOT,
};
use serde::{Deserialize, Serialize};
use worker::{
    durable_object, event, Context, DurableObject, Env, Request, Response, Result, SqlStorageValue,
    State, WebSocket, WebSocketIncomingMessage, WebSocketPair,
};

#[derive(Deserialize)]
struct Edit {
    key: String,
    value: u64,
}

#[derive(Serialize)]
struct Reply {
    keys: Vec<String>,
    heads: Vec<String>,
}

#[durable_object]
pub struct Floor {
    state: State,
}

impl Floor {
    fn load(&self) -> Automerge {
        let sql = self.state.storage().sql();
        let _ = sql.exec("CREATE TABLE IF NOT EXISTS doc (data BLOB)", None);
        let stored = sql
            .exec("SELECT data FROM doc", None)
            .ok()
            .and_then(|c| c.raw().next())
            .and_then(|row| row.ok())
            .and_then(|row| row.into_iter().next());
        match stored {
            Some(SqlStorageValue::Blob(bytes)) => Automerge::load(&bytes).unwrap_or_default(),
            _ => Automerge::new(),
        }
    }

    fn store(&self, doc: &mut Automerge) {
        let sql = self.state.storage().sql();
        let _ = sql.exec("DELETE FROM doc", None);
        let _ = sql.exec(
            "INSERT INTO doc (data) VALUES (?)",
            vec![SqlStorageValue::Blob(doc.save())],
        );
    }
}

impl DurableObject for Floor {
    fn new(state: State, _env: Env) -> Self {
        Floor { state }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        if req.headers().get("upgrade")?.is_some() {
            let pair = WebSocketPair::new()?;
            self.state.accept_web_socket(&pair.server);
            return Response::from_websocket(pair.client);
        }
        let edit: Edit = serde_json::from_slice(&req.bytes().await?).map_err(|e| e.to_string())?;
        let mut doc = self.load();
        let mut tx = doc.transaction();
        let _ = tx.put(ROOT, edit.key.as_str(), edit.value);
        tx.commit();
        self.store(&mut doc);
        Response::from_json(&Reply {
            keys: doc.keys(ROOT).collect(),
            heads: doc.get_heads().iter().map(|h| h.to_string()).collect(),
        })
    }

    async fn websocket_message(
        &self,
        ws: WebSocket,
        message: WebSocketIncomingMessage,
    ) -> Result<()> {
        if let WebSocketIncomingMessage::Binary(bytes) = message {
            let mut doc = self.load();
            let mut state = sync::State::new();
            if let Ok(m) = sync::Message::decode(&bytes) {
                let _ = doc.receive_sync_message(&mut state, m);
            }
            if let Some(reply) = doc.generate_sync_message(&mut state) {
                ws.send_with_bytes(reply.encode())?;
            }
            self.store(&mut doc);
        }
        Ok(())
    }
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    env.durable_object("FLOOR")?
        .id_from_name(&req.path())?
        .get_stub()?
        .fetch_with_request(req)
        .await
}
