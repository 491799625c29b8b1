//! The library in headless Chromium with the browser's own LocalStorage: the shared logic tests (`logic/mod.rs`)
//! plus what only a browser has, a storage quota and other windows. Run by `scripts/test-client-wasm.sh`.
#![cfg(target_arch = "wasm32")]

mod logic;
mod support;

use js_sys::Function;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

use support::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Fills LocalStorage until the browser refuses more; returns the filler keys.
fn fill_storage(prefix: &str) -> Vec<String> {
    let storage = local_storage();
    let mut keys = Vec::new();
    let mut chunk = "x".repeat(1 << 20);
    while chunk.len() >= 16 {
        let key = format!("{prefix}:filler:{}", keys.len());
        if storage.set_item(&key, &chunk).is_ok() {
            keys.push(key);
        } else {
            chunk.truncate(chunk.len() / 2);
        }
    }
    keys
}

#[wasm_bindgen_test]
async fn a_full_local_storage_is_reported_and_the_cart_keeps_working_in_memory() {
    let prefix = fresh_prefix("quota");
    let client = offline_client(&prefix);
    client.add("TEA", Some(1)).expect("add");
    let errors = Recorder::on(&client, "error");
    let filler = fill_storage(&prefix);
    assert!(!filler.is_empty());
    // Enough new lines that the document no longer fits in what is left.
    for i in 0..40 {
        client
            .add(&format!("SKU-{i}"), Some(1))
            .expect("edits work while storage is full");
    }
    settle(0).await;
    let view = client.view();
    assert_eq!(get(&view, "persisted"), JsValue::FALSE);
    assert_eq!(get(&view, "lineCount").as_f64(), Some(41.0));
    assert!(
        errors.codes().iter().any(|c| c == "STORAGE_FULL"),
        "{:?}",
        errors.codes()
    );
    // Space comes back: the next edit stores everything again.
    for key in &filler {
        local_storage().remove_item(key).expect("removeItem");
    }
    client.add("TEA", Some(1)).expect("add");
    assert_eq!(get(&client.view(), "persisted"), JsValue::TRUE);
    let reloaded = offline_client(&prefix).view();
    assert_eq!(get(&reloaded, "lineCount").as_f64(), Some(41.0));
    assert_eq!(qty(&reloaded, "TEA"), 2);
}

/// Writes `key` = `value` to LocalStorage from another window of this origin (a same-origin iframe), which is what
/// another tab's write looks like to this page: a `storage` event.
fn write_from_another_window(key: &str, value: &str) {
    let write = Function::new_with_args(
        "key, value",
        "let frame = document.getElementById('other-tab');
         if (!frame) { frame = document.createElement('iframe'); frame.id = 'other-tab'; document.body.appendChild(frame); }
         frame.contentWindow.localStorage.setItem(key, value);",
    );
    write
        .call2(&JsValue::UNDEFINED, &key.into(), &value.into())
        .expect("the other window writes");
}

#[wasm_bindgen_test]
async fn another_tab_editing_the_cart_notifies_this_tab_at_once() {
    let prefix = fresh_prefix("tabs");
    let here = offline_client(&prefix);
    here.add("TEA", Some(1)).expect("add");
    let id = get(&here.view(), "cartId").as_string().expect("guest id");
    // The other tab: the same cart, edited on its own replica.
    let theirs = fresh_prefix("other");
    for name in ["session".to_owned(), format!("doc:guest:{id}")] {
        let value = storage_get(&format!("{prefix}:{name}")).expect("stored");
        storage_set(&format!("{theirs}:{name}"), &value);
    }
    let other_tab = offline_client(&theirs);
    other_tab.add("CUP", Some(2)).expect("add");
    other_tab.add("TEA", Some(1)).expect("add");
    let changes = Recorder::on(&here, "change");
    let doc = storage_get(&format!("{theirs}:doc:guest:{id}")).expect("stored");
    write_from_another_window(&format!("{prefix}:doc:guest:{id}"), &doc);
    settle(50).await;
    let seen = changes
        .last()
        .expect("a change event from the other tab's write");
    assert_eq!(qty(&seen, "CUP"), 2);
    assert_eq!(qty(&seen, "TEA"), 2, "both tabs' adds count");
    assert_eq!(qty(&here.view(), "CUP"), 2);
    // Garbage from another window is ignored, not merged and not fatal.
    let before = get(&here.view(), "version");
    write_from_another_window(&format!("{prefix}:doc:guest:{id}"), "garbage");
    settle(50).await;
    assert_eq!(get(&here.view(), "version"), before);
    here.add("TEA", Some(1)).expect("still editable");
}

#[wasm_bindgen_test]
async fn another_tab_signing_in_switches_this_tab_to_the_users_cart() {
    let prefix = fresh_prefix("tabs-login");
    let here = offline_client(&prefix);
    here.add("TEA", Some(1)).expect("add");
    let sub = format!("shopper-{}", fresh_prefix("u"));
    let theirs = fresh_prefix("other");
    for key in storage_keys(&format!("{prefix}:")) {
        let value = storage_get(&key).expect("stored");
        storage_set(&key.replacen(&prefix, &theirs, 1), &value);
    }
    let other_tab = offline_client(&theirs);
    other_tab
        .login(&token_for(&sub), None)
        .expect("login in the other tab");
    // The other tab writes the user's cart and then the session: this tab follows.
    for name in [format!("doc:user:{sub}"), "session".to_owned()] {
        let value = storage_get(&format!("{theirs}:{name}")).expect("stored");
        write_from_another_window(&format!("{prefix}:{name}"), &value);
    }
    settle(50).await;
    let view = here.view();
    assert_eq!(get(&view, "userId").as_string(), Some(sub));
    assert_eq!(qty(&view, "TEA"), 1);
    assert!(get(&view, "cartId").is_undefined());
    let _: js_sys::Object = view.dyn_into().expect("the view is an object");
}
