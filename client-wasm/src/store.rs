//! The browser's LocalStorage, as the library uses it: every failure is a value, never a panic.
//!
//! Keys, under a prefix (default `edge-cart`): `session` (who is shopping), `doc:<cart>` (the cart's Automerge
//! document, base64), `server:<cart>` (the heads the server last acknowledged), `pending:user:<sub>` (a signed-out
//! user's changes that could not be sent yet), `corrupt:<key>:<time>` (unreadable data, kept aside).

use base64::{engine::general_purpose::STANDARD, Engine};
use web_sys::Storage;

use crate::js;
use crate::stored;

pub struct Store {
    storage: Option<Storage>,
    prefix: String,
}

/// Why a write failed.
pub enum WriteError {
    /// The storage quota is exhausted (or storage refused the write).
    Full(String),
}

impl Store {
    /// The host's `localStorage` under `prefix`; an in-memory-only store when there is none or it is blocked.
    pub fn local(prefix: &str) -> Self {
        use wasm_bindgen::JsCast;
        let storage = js::global("localStorage").dyn_into::<Storage>().ok();
        Store {
            storage,
            prefix: prefix.to_owned(),
        }
    }

    pub fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.prefix)
    }

    /// The unprefixed name of a full `key`, if it is one of ours.
    pub fn name_of<'a>(&self, key: &'a str) -> Option<&'a str> {
        key.strip_prefix(&self.prefix)?.strip_prefix(':')
    }

    pub fn get(&self, name: &str) -> Option<String> {
        self.storage
            .as_ref()?
            .get_item(&self.key(name))
            .ok()
            .flatten()
    }

    pub fn set(&self, name: &str, value: &str) -> Result<(), WriteError> {
        match &self.storage {
            None => Ok(()),
            Some(s) => s.set_item(&self.key(name), value).map_err(|e| {
                let why = js::get(&e, "name")
                    .as_string()
                    .unwrap_or_else(|| "storage error".into());
                WriteError::Full(why)
            }),
        }
    }

    pub fn remove(&self, name: &str) {
        if let Some(s) = &self.storage {
            let _ = s.remove_item(&self.key(name));
        }
    }

    /// Moves unreadable data under `corrupt:<name>:<time>` so it is neither lost nor read again.
    pub fn quarantine(&self, name: &str, raw: &str) {
        let _ = self.set(&format!("corrupt:{name}:{}", js::now_ms()), raw);
        self.remove(name);
    }

    pub fn get_bytes(&self, name: &str) -> Option<Result<Vec<u8>, stored::Unreadable>> {
        self.get(name).map(|text| stored::bytes(&text))
    }

    pub fn set_bytes(&self, name: &str, bytes: &[u8]) -> Result<(), WriteError> {
        self.set(name, &STANDARD.encode(bytes))
    }
}
