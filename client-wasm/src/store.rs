//! The browser's LocalStorage, as the library uses it: every failure is a value, never a panic.
//!
//! Keys, under a prefix (default `edge-cart`): `session` (who is shopping), `doc:<cart>` (the cart's Automerge
//! document, base64: the snapshot), `inc:<cart>:<id>` (one incremental save since that snapshot each, base64; see
//! `persist.rs`), `server:<cart>` (the heads the server last acknowledged), `pending:user:<sub>` (a signed-out
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

    /// The names of every key of ours, with their values, whose name `wanted` accepts.
    pub fn entries(&self, wanted: impl Fn(&str) -> bool) -> Vec<(String, String)> {
        let Some(storage) = &self.storage else {
            return Vec::new();
        };
        let len = storage.length().unwrap_or(0);
        let names: Vec<String> = (0..len)
            .filter_map(|i| storage.key(i).ok().flatten())
            .filter_map(|key| self.name_of(&key).filter(|n| wanted(n)).map(str::to_owned))
            .collect();
        names
            .into_iter()
            .filter_map(|name| self.get(&name).map(|value| (name, value)))
            .collect()
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
