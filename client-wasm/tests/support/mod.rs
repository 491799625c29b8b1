//! Helpers for the library's wasm tests: clients that never touch the network, raw LocalStorage access, an event
//! recorder, and unsigned tokens (the client reads `sub` only; the server is the one that verifies).

use std::cell::RefCell;
use std::rc::Rc;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use cart_client::CartClient;
use js_sys::{Function, Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// A storage prefix no other test uses, so tests sharing one page's LocalStorage stay independent.
pub fn fresh_prefix(label: &str) -> String {
    format!("t-{label}-{}", (js_sys::Math::random() * 1e12) as u64)
}

/// A client over `prefix` that stays offline: these tests are about the browser side only.
pub fn offline_client(prefix: &str) -> CartClient {
    let options = Object::new();
    set(&options, "storageKey", &prefix.into());
    set(&options, "transport", &"none".into());
    set(&options, "autoConnect", &false.into());
    CartClient::new("http://127.0.0.1:9".into(), options.into())
}

pub fn set(target: &JsValue, key: &str, value: &JsValue) {
    Reflect::set(target, &key.into(), value).expect("setting a property of a plain object");
}

pub fn get(target: &JsValue, key: &str) -> JsValue {
    Reflect::get(target, &key.into()).expect("reading a property of an object")
}

/// `globalThis.localStorage`.
pub fn local_storage() -> web_sys::Storage {
    get(&js_sys::global(), "localStorage")
        .dyn_into()
        .expect("the host has a localStorage")
}

pub fn storage_get(key: &str) -> Option<String> {
    local_storage().get_item(key).expect("localStorage.getItem")
}

pub fn storage_set(key: &str, value: &str) {
    local_storage()
        .set_item(key, value)
        .expect("localStorage.setItem");
}

/// Copies the stored cart `cart_key` (`guest:<id>`, `user:<sub>`): its snapshot and increments, from the storage
/// prefix `from` to `to`, as if it had been stored there.
pub fn copy_cart(from: &str, to: &str, cart_key: &str) {
    for key in storage_keys(&format!("{from}:doc:{cart_key}"))
        .into_iter()
        .chain(storage_keys(&format!("{from}:inc:{cart_key}:")))
    {
        let value = storage_get(&key).expect("stored");
        storage_set(&key.replacen(from, to, 1), &value);
    }
}

/// Every key in LocalStorage that starts with `prefix`.
pub fn storage_keys(prefix: &str) -> Vec<String> {
    let storage = local_storage();
    let len = storage.length().expect("localStorage.length");
    (0..len)
        .filter_map(|i| storage.key(i).ok().flatten())
        .filter(|k| k.starts_with(prefix))
        .collect()
}

/// A JWT-shaped token for `sub` (header and signature are not checked by the client).
pub fn token_for(sub: &str) -> String {
    let enc = |s: &str| URL_SAFE_NO_PAD.encode(s.as_bytes());
    format!(
        "{}.{}.sig",
        enc(r#"{"alg":"HS256","typ":"JWT"}"#),
        enc(&format!(r#"{{"sub":"{sub}","exp":4102444800}}"#))
    )
}

/// The quantity of `sku` in a view, 0 when absent.
pub fn qty(view: &JsValue, sku: &str) -> u32 {
    let lines: js_sys::Array = get(view, "lines")
        .dyn_into()
        .expect("view.lines is an array");
    lines
        .iter()
        .find(|line| get(line, "sku").as_string().as_deref() == Some(sku))
        .and_then(|line| get(&line, "qty").as_f64())
        .map_or(0, |q| q as u32)
}

/// The `code` of a thrown or dispatched `CartError`.
pub fn code(error: &JsValue) -> String {
    assert!(
        error.is_instance_of::<js_sys::Error>(),
        "errors are Error objects"
    );
    get(error, "code")
        .as_string()
        .expect("errors carry a string code")
}

/// Records the `detail` of every event of `kind` a client dispatches.
pub struct Recorder {
    pub seen: Rc<RefCell<Vec<JsValue>>>,
    _listener: Closure<dyn FnMut(web_sys::CustomEvent)>,
}

impl Recorder {
    pub fn on(client: &CartClient, kind: &str) -> Recorder {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let sink = seen.clone();
        let listener =
            Closure::<dyn FnMut(web_sys::CustomEvent)>::new(move |e: web_sys::CustomEvent| {
                sink.borrow_mut().push(e.detail());
            });
        client
            .add_event_listener(kind, listener.as_ref().unchecked_ref())
            .expect("addEventListener");
        Recorder {
            seen,
            _listener: listener,
        }
    }

    pub fn codes(&self) -> Vec<String> {
        self.seen.borrow().iter().map(code).collect()
    }

    pub fn last(&self) -> Option<JsValue> {
        self.seen.borrow().last().cloned()
    }
}

/// Lets timers and queued tasks run (events the client announces after returning).
pub async fn settle(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let set_timeout: Function = get(&js_sys::global(), "setTimeout")
            .dyn_into()
            .expect("setTimeout");
        set_timeout
            .call2(&JsValue::UNDEFINED, &resolve, &JsValue::from(ms))
            .expect("setTimeout call");
    });
    wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .expect("a timer resolves");
}
