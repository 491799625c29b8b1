//! Who is shopping (a guest, or a signed-in user) and that cart's replica, as kept in LocalStorage.

use std::cell::Cell;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use cart_core::{Cart, ChangeHash};
use wasm_bindgen::{JsCast, JsValue};

use crate::error::cart_error;
use crate::js;
use crate::persist::{self, Persisted};
use crate::store::Store;
use crate::stored;

#[derive(Clone, PartialEq, Eq)]
pub enum Who {
    Guest { id: String },
    User { sub: String, token: String },
}

impl Who {
    /// The storage name of this identity's cart.
    pub fn cart_key(&self) -> String {
        match self {
            Who::Guest { id } => format!("guest:{id}"),
            Who::User { sub, .. } => format!("user:{sub}"),
        }
    }

    fn to_record(&self) -> String {
        let record = js_sys::Object::new();
        match self {
            Who::Guest { id } => {
                js::set(&record, "kind", &"guest".into());
                js::set(&record, "id", &id.into());
            }
            Who::User { sub, token } => {
                js::set(&record, "kind", &"user".into());
                js::set(&record, "sub", &sub.into());
                js::set(&record, "token", &token.into());
            }
        }
        js_sys::JSON::stringify(&record)
            .ok()
            .and_then(|s| s.as_string())
            .unwrap_or_default()
    }

    fn from_record(text: &str) -> Option<Who> {
        let record = js_sys::JSON::parse(text).ok()?;
        let field = |name| js::get_string(&record, name);
        stored::who(field("kind"), field("id"), field("sub"), field("token"))
    }
}

/// The active identity and its replica.
pub struct Session {
    pub who: Who,
    pub cart: Cart,
    /// Heads the server last reported: what it has acknowledged.
    pub server_heads: Vec<ChangeHash>,
    /// The cart just before the last removal or clear, for `undo()` (this page only, not stored).
    pub undo_heads: Option<Vec<ChangeHash>>,
    /// What storage holds of this cart: its snapshot and the increments this replica knows of.
    pub persisted: Persisted,
    /// Storage holds an increment of a newer layout (left in place): the cart is shown read-only.
    pub newer_layout: bool,
    /// The last pending count and the cart heads it was counted at (for the `server_heads` of that moment), so
    /// a view after a local edit counts one more instead of walking the history.
    pending: Cell<Option<Counted>>,
}

/// A pending count and what it was counted against.
#[derive(Clone, PartialEq, Eq)]
struct Counted {
    heads: Vec<ChangeHash>,
    server_heads: Vec<ChangeHash>,
    pending: usize,
}

/// Problems found while reading storage, reported as `error` events once listeners can hear them.
pub type Problems = Vec<JsValue>;

impl Session {
    /// The session in storage, or a new guest. Unreadable data is kept aside and reported, never a crash.
    pub fn restore(store: &Store, problems: &mut Problems) -> Session {
        let who = match store.get("session") {
            None => None,
            Some(text) => match Who::from_record(&text) {
                Some(who) => Some(who),
                None => {
                    store.quarantine("session", &text);
                    problems.push(cart_error(
                        "STORAGE_CORRUPT",
                        "the stored session was unreadable; it was kept aside",
                    ));
                    None
                }
            },
        };
        let who = who.unwrap_or_else(|| Who::Guest {
            id: random_cart_id(),
        });
        let session = Session::open(store, who, problems);
        session.save_who(store);
        session
    }

    /// The cart of `who` from storage (a new one when there is none or it is unreadable).
    pub fn open(store: &Store, who: Who, problems: &mut Problems) -> Session {
        let key = format!("doc:{}", who.cart_key());
        let cart_key = who.cart_key();
        let snapshot = store.get(&key);
        let increments = store.entries(|name| persist::is_increment_of(&cart_key, name));
        let read = stored::replica(snapshot.as_deref(), &increments);
        for (name, e) in read.unreadable {
            let (name, raw) = match name {
                None => (key.clone(), snapshot.clone().unwrap_or_default()),
                Some(name) => {
                    let raw = increments
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default();
                    (name, raw)
                }
            };
            store.quarantine(&name, &raw);
            problems.push(cart_error("STORAGE_CORRUPT", &format!("the stored cart was unreadable ({e}); it was kept aside and the cart will be recovered from the server")));
        }
        let persisted = Persisted::read(read.snapshot, read.increments, snapshot.as_deref());
        let newer_layout = read.newer_layout;
        let mut cart = read.cart.unwrap_or_default();
        cart.set_clock(js::now_ms);
        let server_heads = store
            .get(&format!("server:{}", who.cart_key()))
            .map(|text| stored::heads(&text))
            .unwrap_or_default();
        Session {
            who,
            cart,
            server_heads,
            undo_heads: None,
            persisted,
            newer_layout,
            pending: Cell::new(None),
        }
    }

    pub fn save_who(&self, store: &Store) {
        let _ = store.set("session", &self.who.to_record());
    }

    pub fn doc_name(&self) -> String {
        format!("doc:{}", self.who.cart_key())
    }

    /// Whether `name` is the storage name of one of this cart's increments.
    pub fn is_increment(&self, name: &str) -> bool {
        persist::is_increment_of(&self.who.cart_key(), name)
    }

    /// Removes this cart's replica from storage: its snapshot, every increment (this replica's or not) and the
    /// server's acknowledged heads.
    pub fn remove_from(&self, store: &Store) {
        store.remove(&self.doc_name());
        for (name, _) in store.entries(|name| self.is_increment(name)) {
            store.remove(&name);
        }
        store.remove(&self.server_name());
    }

    /// The API path of this cart: `/v1/carts/{id}` or `/v1/me/cart`.
    pub fn api_path(&self) -> String {
        match &self.who {
            Who::Guest { id } => format!("/v1/carts/{id}"),
            Who::User { .. } => "/v1/me/cart".into(),
        }
    }

    pub fn server_name(&self) -> String {
        format!("server:{}", self.who.cart_key())
    }

    /// Changes the server has not acknowledged. Counted once, then kept: a local edit adds one
    /// ([`Session::edited`]); anything else (a sync message, another tab) counts again. Nothing is pending when
    /// the server's heads are the cart's, which needs no count.
    pub fn pending(&self) -> usize {
        let heads = self.cart.heads();
        let counted = self.pending.take();
        let pending = match counted {
            Some(c) if c.heads == heads && c.server_heads == self.server_heads => c.pending,
            _ if sorted(&self.server_heads) == heads => 0,
            _ => self.cart.changes_missing_from(&self.server_heads),
        };
        self.pending.set(Some(Counted {
            heads,
            server_heads: self.server_heads.clone(),
            pending,
        }));
        pending
    }

    /// After a local edit that moved the cart from `before`: the kept pending count goes up by one when the edit
    /// was one change on top of the heads it was counted at, and is dropped (counted again) otherwise.
    pub fn edited(&self, before: &[ChangeHash]) {
        let counted = self.pending.take().filter(|c| {
            c.heads == before
                && c.server_heads == self.server_heads
                && self.cart.is_one_local_change_after(before)
        });
        self.pending.set(counted.map(|c| Counted {
            heads: self.cart.heads(),
            server_heads: c.server_heads,
            pending: c.pending + 1,
        }));
    }
}

fn sorted(heads: &[ChangeHash]) -> Vec<ChangeHash> {
    let mut heads = heads.to_vec();
    heads.sort();
    heads
}

/// A guest cart id: 128 random bits from `crypto.getRandomValues`, base64url (22 characters).
pub fn random_cart_id() -> String {
    let mut bytes = [0u8; 16];
    let filled = js::global("crypto")
        .dyn_into::<js_sys::Object>()
        .ok()
        .and_then(|crypto| {
            js::get(&crypto, "getRandomValues")
                .dyn_into::<js_sys::Function>()
                .ok()
                .map(|f| (crypto, f))
        })
        .and_then(|(crypto, f)| {
            let array = js_sys::Uint8Array::new_with_length(16);
            f.call1(&crypto, &array).ok()?;
            array.copy_to(&mut bytes);
            Some(())
        });
    if filled.is_none() {
        // No Web Crypto: fall back to the actor id generator (getrandom, also crypto-backed where it exists).
        bytes.copy_from_slice(&cart_core::ActorId::random().to_bytes()[..16]);
    }
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The `sub` of a JWT, read without verifying it (the server verifies; the client only needs to name the cart).
pub fn token_subject(token: &str) -> Result<String, JsValue> {
    let invalid = || cart_error("INVALID_TOKEN", "the token is not a JWT with a `sub` claim");
    let payload = token.split('.').nth(1).ok_or_else(invalid)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let claims = js_sys::JSON::parse(&text).map_err(|_| invalid())?;
    js::get_string(&claims, "sub")
        .filter(|s| !s.is_empty())
        .ok_or_else(invalid)
}
