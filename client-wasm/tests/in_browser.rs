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
    client.add("TEA", Some(JsValue::from(1))).expect("add");
    let errors = Recorder::on(&client, "error");
    let filler = fill_storage(&prefix);
    assert!(!filler.is_empty());
    // Enough new lines that the document no longer fits in what is left.
    for i in 0..40 {
        client
            .add(&format!("SKU-{i}"), Some(JsValue::from(1)))
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
    client.add("TEA", Some(JsValue::from(1))).expect("add");
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

/// Writes every key of the cart `cart_key` under `from` to `to` from another window: what the other tab's writes
/// look like to this one.
fn mirror_from_another_window(from: &str, to: &str, cart_key: &str) {
    for key in storage_keys(&format!("{from}:inc:{cart_key}:"))
        .into_iter()
        .chain(storage_keys(&format!("{from}:doc:{cart_key}")))
    {
        let value = storage_get(&key).expect("stored");
        write_from_another_window(&key.replacen(from, to, 1), &value);
    }
}

/// This tab (a guest cart holding TEA x 1) and another tab of the same cart, each with its own storage prefix so a
/// test decides what the other tab's writes look like here.
struct Tabs {
    prefix: String,
    here: cart_client::CartClient,
    cart: String,
    theirs: String,
    other_tab: cart_client::CartClient,
}

fn two_tabs(label: &str) -> Tabs {
    let prefix = fresh_prefix(label);
    let here = offline_client(&prefix);
    here.add("TEA", Some(JsValue::from(1))).expect("add");
    let id = get(&here.view(), "cartId").as_string().expect("guest id");
    let cart = format!("guest:{id}");
    let theirs = fresh_prefix("other");
    storage_set(
        &format!("{theirs}:session"),
        &storage_get(&format!("{prefix}:session")).expect("stored"),
    );
    copy_cart(&prefix, &theirs, &cart);
    let other_tab = offline_client(&theirs);
    Tabs {
        prefix,
        here,
        cart,
        theirs,
        other_tab,
    }
}

#[wasm_bindgen_test]
async fn another_tab_editing_the_cart_notifies_this_tab_at_once() {
    // The other tab: the same cart, edited on its own replica.
    let Tabs {
        prefix,
        here,
        cart,
        theirs,
        other_tab,
    } = two_tabs("tabs");
    other_tab.add("CUP", Some(JsValue::from(2))).expect("add");
    other_tab.add("TEA", Some(JsValue::from(1))).expect("add");
    let changes = Recorder::on(&here, "change");
    mirror_from_another_window(&theirs, &prefix, &cart);
    settle(50).await;
    let seen = changes
        .last()
        .expect("a change event from the other tab's write");
    assert_eq!(qty(&seen, "CUP"), 2);
    assert_eq!(qty(&seen, "TEA"), 2, "both tabs' adds count");
    assert_eq!(qty(&here.view(), "CUP"), 2);
    // Garbage from another window is ignored, not merged and not fatal.
    let before = get(&here.view(), "version");
    write_from_another_window(&format!("{prefix}:doc:{cart}"), "garbage");
    write_from_another_window(&format!("{prefix}:inc:{cart}:zzz"), "garbage");
    write_from_another_window(&format!("{prefix}:inc:{cart}:yyy"), "bm90IGEgY2hhbmdl");
    settle(50).await;
    assert_eq!(get(&here.view(), "version"), before);
    here.add("TEA", Some(JsValue::from(1)))
        .expect("still editable");
}

#[wasm_bindgen_test]
async fn another_tab_signing_in_switches_this_tab_to_the_users_cart() {
    let prefix = fresh_prefix("tabs-login");
    let here = offline_client(&prefix);
    here.add("TEA", Some(JsValue::from(1))).expect("add");
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

#[wasm_bindgen_test]
async fn two_tabs_editing_at_the_same_moment_keep_both_edits_in_storage_even_across_a_compaction() {
    let Tabs {
        prefix,
        here,
        cart,
        theirs,
        other_tab,
    } = two_tabs("race");
    // Both tabs edit before either hears of the other: each edit is a key of its own, so neither replaces the other.
    other_tab.add("CUP", Some(JsValue::from(2))).expect("add");
    let mine = storage_keys(&format!("{prefix}:inc:{cart}:"));
    here.add("MUG", Some(JsValue::from(3))).expect("add");
    let mug_key = storage_keys(&format!("{prefix}:inc:{cart}:"))
        .into_iter()
        .find(|k| !mine.contains(k))
        .expect("MUG's key");
    mirror_from_another_window(&theirs, &prefix, &cart);
    settle(50).await;
    let all = |view: &JsValue| (qty(view, "TEA"), qty(view, "CUP"), qty(view, "MUG"));
    assert_eq!(all(&here.view()), (1, 2, 3));
    assert_eq!(
        all(&offline_client(&prefix).view()),
        (1, 2, 3),
        "storage has all three"
    );
    // The worst case of two tabs compacting at once: a snapshot that lacks MUG replaces this tab's, and MUG's key
    // is gone. This tab writes MUG back as soon as it reads that snapshot.
    let lacking_mug = {
        use base64::{engine::general_purpose::STANDARD, Engine};
        let mut bytes = STANDARD
            .decode(storage_get(&format!("{theirs}:doc:{cart}")).expect("their snapshot"))
            .expect("base64");
        for key in storage_keys(&format!("{theirs}:inc:{cart}:")) {
            bytes.extend(
                STANDARD
                    .decode(storage_get(&key).expect("stored"))
                    .expect("base64"),
            );
        }
        let mut compacted = cart_core::Cart::load(&bytes).expect("their cart");
        assert_eq!(compacted.view().qty("MUG"), 0);
        STANDARD.encode(compacted.save())
    };
    let remove = Function::new_with_args(
        "key",
        "document.getElementById('other-tab').contentWindow.localStorage.removeItem(key);",
    );
    remove
        .call1(&JsValue::UNDEFINED, &mug_key.clone().into())
        .expect("the other window removes the key");
    let before = storage_keys(&format!("{prefix}:inc:{cart}:"));
    write_from_another_window(&format!("{prefix}:doc:{cart}"), &lacking_mug);
    settle(50).await;
    let written_back: Vec<_> = storage_keys(&format!("{prefix}:inc:{cart}:"))
        .into_iter()
        .filter(|k| !before.contains(k))
        .collect();
    assert_eq!(
        written_back.len(),
        1,
        "one increment written back: {written_back:?}"
    );
    let reloaded = offline_client(&prefix).view();
    assert_eq!(all(&reloaded), (1, 2, 3), "MUG was written back");
    assert_eq!(get(&reloaded, "version"), get(&here.view(), "version"));
}

#[wasm_bindgen_test]
async fn a_page_restored_from_the_back_forward_cache_reads_what_other_tabs_wrote_meanwhile() {
    let Tabs {
        prefix,
        here,
        cart,
        theirs,
        other_tab,
    } = two_tabs("bfcache");
    other_tab.add("CUP", Some(JsValue::from(2))).expect("add");
    // Written while this page was frozen: no `storage` event reaches it (this window's own writes fire none).
    for key in storage_keys(&format!("{theirs}:inc:{cart}:")) {
        storage_set(
            &key.replacen(&theirs, &prefix, 1),
            &storage_get(&key).expect("stored"),
        );
    }
    let page_show = Function::new_with_args(
        "persisted",
        "window.dispatchEvent(new PageTransitionEvent('pageshow', { persisted }));",
    );
    page_show
        .call1(&JsValue::UNDEFINED, &false.into())
        .expect("a first load's pageshow");
    settle(0).await;
    assert_eq!(
        qty(&here.view(), "CUP"),
        0,
        "a first load's pageshow reads nothing"
    );
    let changes = Recorder::on(&here, "change");
    page_show
        .call1(&JsValue::UNDEFINED, &true.into())
        .expect("a restored page's pageshow");
    settle(0).await;
    assert_eq!(qty(&here.view(), "CUP"), 2);
    assert_eq!(qty(&changes.last().expect("a change event"), "CUP"), 2);
}
