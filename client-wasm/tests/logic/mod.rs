//! Library behaviour that needs LocalStorage but no browser window: run in headless Chromium (`in_browser.rs`) and
//! in Node 22 with its Web Storage (`in_node.rs`).

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

use crate::support::*;

#[wasm_bindgen_test]
fn a_guest_cart_is_in_storage_before_each_edit_returns_and_survives_recreating_the_client() {
    let prefix = fresh_prefix("persist");
    let first = offline_client(&prefix);
    let id = get(&first.view(), "cartId")
        .as_string()
        .expect("a guest cart has an id");
    assert_eq!(id.len(), 22, "128 random bits, base64url");
    first.add("TEA", Some(JsValue::from(2))).expect("add");
    first.set_selected("TEA", false).expect("deselect");
    // Another client reading the same storage right now is what a reload, a crash or a new tab would see.
    let second = offline_client(&prefix);
    let view = second.view();
    assert_eq!(get(&view, "cartId").as_string(), Some(id));
    assert_eq!(qty(&view, "TEA"), 2);
    assert_eq!(get(&view, "persisted"), JsValue::TRUE);
    drop(first);
    second.add("TEA", Some(JsValue::from(1))).expect("add");
    assert_eq!(qty(&offline_client(&prefix).view(), "TEA"), 3);
}

#[wasm_bindgen_test]
fn bad_input_throws_a_coded_error_and_leaves_the_cart_unchanged() {
    let client = offline_client(&fresh_prefix("bad"));
    client.add("TEA", Some(JsValue::from(1))).expect("add");
    let before = get(&client.view(), "version");
    let failures = [
        (
            "INVALID_SKU",
            client
                .add("no spaces allowed", Some(JsValue::from(1)))
                .err(),
        ),
        (
            "INVALID_QUANTITY",
            client.add("TEA", Some(JsValue::from(0))).err(),
        ),
        (
            "INVALID_QUANTITY",
            client.add("TEA", Some(JsValue::from(1.5))).err(),
        ),
        (
            "INVALID_QUANTITY",
            client.add("TEA", Some(JsValue::from("2"))).err(),
        ),
        (
            "INVALID_QUANTITY",
            client.set_quantity("TEA", JsValue::from(1000)).err(),
        ),
        (
            "QUANTITY_LIMIT",
            client.add("TEA", Some(JsValue::from(999))).err(),
        ),
        ("INVALID_TOKEN", client.login("not-a-jwt", None).err()),
        (
            "INVALID_POLICY",
            client.login(&token_for("u"), Some("median".into())).err(),
        ),
    ];
    for (expected, error) in failures {
        let error = error.unwrap_or_else(|| panic!("{expected}: the call was accepted"));
        assert_eq!(code(&error), expected);
        assert_eq!(
            get(&error, "name").as_string().as_deref(),
            Some("CartError")
        );
    }
    assert_eq!(get(&client.view(), "version"), before);
    assert_eq!(qty(&client.view(), "TEA"), 1);
}

/// Puts a cart for `sub` with `sku` x `n` into this browser's storage under `prefix`, as an earlier sign-in on this
/// device would have left it (built by a client with its own storage, then copied over).
fn user_cart_in_storage(prefix: &str, sub: &str, sku: &str, n: u32) {
    let elsewhere = fresh_prefix("seed");
    let seeder = offline_client(&elsewhere);
    seeder.login(&token_for(sub), None).expect("login");
    seeder.add(sku, Some(JsValue::from(n))).expect("add");
    assert!(
        storage_get(&format!("{elsewhere}:doc:user:{sub}")).is_some(),
        "the user cart was stored"
    );
    copy_cart(&elsewhere, prefix, &format!("user:{sub}"));
}

#[wasm_bindgen_test]
fn login_merges_the_guest_cart_by_max_by_default_and_by_sum_on_request() {
    for (policy, expected_tea) in [(None, 3), (Some("max"), 3), (Some("sum"), 5)] {
        let prefix = fresh_prefix("login");
        let sub = format!("shopper-{}", fresh_prefix("u"));
        user_cart_in_storage(&prefix, &sub, "TEA", 2);
        let client = offline_client(&prefix);
        client.add("TEA", Some(JsValue::from(3))).expect("add");
        client.add("CUP", Some(JsValue::from(1))).expect("add");
        let guest_id = get(&client.view(), "cartId").as_string().expect("guest id");
        let report = client
            .login(&token_for(&sub), policy.map(Into::into))
            .expect("login");
        let view = client.view();
        assert_eq!(
            get(&view, "userId").as_string(),
            Some(sub.clone()),
            "{policy:?}"
        );
        assert_eq!(qty(&view, "TEA"), expected_tea, "{policy:?}");
        assert_eq!(qty(&view, "CUP"), 1, "{policy:?}");
        assert_eq!(get(&report, "alreadyMerged"), JsValue::FALSE);
        // The user's cart is kept in this browser for offline edits; the merged guest copy is gone.
        assert!(storage_get(&format!("{prefix}:doc:user:{sub}")).is_some());
        assert!(storage_get(&format!("{prefix}:doc:guest:{guest_id}")).is_none());
        assert_eq!(qty(&offline_client(&prefix).view(), "TEA"), expected_tea);
    }
}

#[wasm_bindgen_test]
fn two_tabs_logging_in_with_the_same_guest_cart_merge_it_once() {
    let prefix = fresh_prefix("twice");
    let sub = format!("shopper-{}", fresh_prefix("u"));
    let tab_a = offline_client(&prefix);
    tab_a.add("TEA", Some(JsValue::from(2))).expect("add");
    // A second tab restores the same guest cart from storage.
    let tab_b = offline_client(&prefix);
    assert_eq!(qty(&tab_b.view(), "TEA"), 2);
    tab_a
        .login(&token_for(&sub), Some("sum".into()))
        .expect("login in tab A");
    let again = tab_b
        .login(&token_for(&sub), Some("sum".into()))
        .expect("login in tab B");
    assert_eq!(
        get(&again, "alreadyMerged"),
        JsValue::TRUE,
        "the second merge of one guest state is a no-op"
    );
    assert_eq!(
        qty(&tab_b.view(), "TEA"),
        2,
        "sum counted the guest cart once"
    );
    assert_eq!(qty(&offline_client(&prefix).view(), "TEA"), 2);
    // Signing in again as the same user is also a no-op; another user must sign out first.
    assert_eq!(
        get(
            &tab_b.login(&token_for(&sub), None).expect("re-login"),
            "alreadyMerged"
        ),
        JsValue::TRUE
    );
    let other = tab_b
        .login(&token_for("someone-else"), None)
        .expect_err("another user");
    assert_eq!(code(&other), "ALREADY_SIGNED_IN");
}

#[wasm_bindgen_test]
async fn corrupt_storage_is_reported_kept_aside_and_a_clean_cart_starts() {
    let id = "AAAAAAAAAAAAAAAAAAAAAA";
    // A readable session naming a cart whose document is, in turn, not base64, then base64 of garbage.
    for doc in [
        "%%% not base64 %%%",
        "aGVsbG8sIEkgYW0gbm90IGFuIGF1dG9tZXJnZSBkb2M=",
    ] {
        let prefix = fresh_prefix("corrupt-doc");
        storage_set(
            &format!("{prefix}:session"),
            &format!(r#"{{"kind":"guest","id":"{id}"}}"#),
        );
        storage_set(&format!("{prefix}:doc:guest:{id}"), doc);
        let client = offline_client(&prefix);
        let errors = Recorder::on(&client, "error");
        settle(0).await;
        assert_eq!(errors.codes(), ["STORAGE_CORRUPT"], "{doc}");
        assert_eq!(
            get(&client.view(), "cartId").as_string().as_deref(),
            Some(id),
            "the cart id is kept"
        );
        assert_eq!(get(&client.view(), "lineCount").as_f64(), Some(0.0));
        let kept: Vec<_> = storage_keys(&format!("{prefix}:corrupt:doc:guest:{id}:"));
        assert_eq!(kept.len(), 1, "the raw data is kept aside");
        assert_eq!(storage_get(&kept[0]).as_deref(), Some(doc));
        client
            .add("TEA", Some(JsValue::from(1)))
            .expect("the clean cart works");
        // The next start reads the clean cart and reports nothing.
        let next = offline_client(&prefix);
        let quiet = Recorder::on(&next, "error");
        settle(0).await;
        assert!(quiet.codes().is_empty());
        assert_eq!(qty(&next.view(), "TEA"), 1);
    }
    // An unreadable session: a new guest cart, the old record kept aside.
    let prefix = fresh_prefix("corrupt-session");
    storage_set(&format!("{prefix}:session"), "{ this is not json");
    let client = offline_client(&prefix);
    let errors = Recorder::on(&client, "error");
    settle(0).await;
    assert_eq!(errors.codes(), ["STORAGE_CORRUPT"]);
    assert_eq!(storage_keys(&format!("{prefix}:corrupt:session:")).len(), 1);
    assert!(get(&client.view(), "cartId").as_string().is_some());
}

#[wasm_bindgen_test]
fn subscribers_get_every_change_with_the_new_view_until_they_unsubscribe() {
    let client = offline_client(&fresh_prefix("subscribe"));
    let changes = Recorder::on(&client, "change");
    client.add("TEA", Some(JsValue::from(1))).expect("add");
    client.add("TEA", Some(JsValue::from(1))).expect("add");
    client
        .remove("ABSENT")
        .expect("removing an absent line is fine and changes nothing");
    assert_eq!(
        changes.seen.borrow().len(),
        2,
        "one event per change, none for a no-op"
    );
    assert_eq!(qty(&changes.last().expect("an event"), "TEA"), 2);
}

#[wasm_bindgen_test]
fn the_last_removal_or_clear_can_be_undone_and_the_undo_is_stored() {
    let prefix = fresh_prefix("undo");
    let client = offline_client(&prefix);
    client.add("TEA", Some(JsValue::from(2))).expect("add");
    client.add("MUG", Some(JsValue::from(1))).expect("add");
    assert_eq!(
        get(&client.view(), "canUndo"),
        JsValue::FALSE,
        "nothing removed yet"
    );
    client.remove("TEA").expect("remove");
    assert_eq!(get(&client.view(), "canUndo"), JsValue::TRUE);
    assert_eq!(client.undo().expect("undo"), ["TEA"]);
    assert_eq!(qty(&client.view(), "TEA"), 2);
    assert_eq!(get(&client.view(), "canUndo"), JsValue::FALSE);
    assert!(client.undo().expect("a second undo").is_empty());
    client.clear().expect("clear");
    assert_eq!(client.undo().expect("undo the clear"), ["MUG", "TEA"]);
    let reloaded = offline_client(&prefix).view();
    assert_eq!((qty(&reloaded, "TEA"), qty(&reloaded, "MUG")), (2, 1));
}

/// The guest cart's storage under `prefix`: its snapshot's text and its increments' names.
fn stored_cart(prefix: &str, client: &cart_client::CartClient) -> (String, Vec<String>) {
    let id = get(&client.view(), "cartId").as_string().expect("guest id");
    let snapshot = storage_get(&format!("{prefix}:doc:guest:{id}")).expect("a snapshot");
    (snapshot, storage_keys(&format!("{prefix}:inc:guest:{id}:")))
}

#[wasm_bindgen_test]
fn an_edit_stores_its_change_under_a_key_of_its_own_and_leaves_the_snapshot_as_it_was() {
    let prefix = fresh_prefix("append");
    let client = offline_client(&prefix);
    client.add("TEA", Some(JsValue::from(1))).expect("add");
    let (snapshot, before) = stored_cart(&prefix, &client);
    client.add("CUP", Some(JsValue::from(2))).expect("add");
    let (after, increments) = stored_cart(&prefix, &client);
    assert_eq!(after, snapshot, "the snapshot is not written again");
    assert_eq!(increments.len(), before.len() + 1, "one key more");
    let new = increments
        .iter()
        .find(|k| !before.contains(k))
        .expect("the new key");
    let written = storage_get(new).expect("its value").len();
    assert!(
        (1..1000).contains(&written),
        "one change: {written} characters"
    );
    let reloaded = offline_client(&prefix).view();
    assert_eq!((qty(&reloaded, "TEA"), qty(&reloaded, "CUP")), (1, 2));
}

#[wasm_bindgen_test]
async fn increments_are_compacted_into_the_snapshot_at_an_idle_moment_not_inside_an_edit() {
    let prefix = fresh_prefix("compact");
    let client = offline_client(&prefix);
    client.add("TEA", Some(JsValue::from(1))).expect("add");
    let (snapshot, _) = stored_cart(&prefix, &client);
    let mut edits = 0;
    // Increments pile up until they weigh as much as the snapshot (at least 4 KiB); no edit compacts.
    loop {
        client
            .set_quantity("TEA", JsValue::from(1 + (edits % 9)))
            .expect("set");
        edits += 1;
        let (now, increments) = stored_cart(&prefix, &client);
        assert_eq!(now, snapshot, "edit {edits} rewrote the snapshot");
        let decoded = |text: &str| {
            use base64::{engine::general_purpose::STANDARD, Engine};
            STANDARD.decode(text).expect("base64").len()
        };
        let bytes: usize = increments
            .iter()
            .map(|k| storage_get(k).map_or(0, |v| decoded(&v)))
            .sum();
        if bytes >= decoded(&snapshot).max(4096) {
            break;
        }
        assert!(edits < 2000, "the increments never reached 4 KiB");
    }
    // The compaction waits for an idle moment (at most two seconds).
    for _ in 0..50 {
        settle(50).await;
        if stored_cart(&prefix, &client).0 != snapshot {
            break;
        }
    }
    let (compacted, left) = stored_cart(&prefix, &client);
    assert_ne!(compacted, snapshot, "no compaction after {edits} edits");
    assert!(
        left.is_empty(),
        "the increments it covers are removed: {left:?}"
    );
    let reloaded = offline_client(&prefix).view();
    assert_eq!(qty(&reloaded, "TEA"), 1 + ((edits - 1) % 9));
    assert_eq!(get(&reloaded, "version"), get(&client.view(), "version"));
    assert_eq!(get(&reloaded, "pending"), get(&client.view(), "pending"));
}

#[wasm_bindgen_test]
fn the_view_is_one_frozen_snapshot_until_something_it_shows_changes() {
    let client = offline_client(&fresh_prefix("view"));
    client.add("TEA", Some(JsValue::from(1))).expect("add");
    let first = client.view();
    assert!(
        js_sys::Object::is(&first, &client.view()),
        "the same object until a change"
    );
    assert!(js_sys::Object::is_frozen(
        first.unchecked_ref::<js_sys::Object>()
    ));
    let lines = get(&first, "lines");
    assert!(js_sys::Object::is_frozen(
        lines.unchecked_ref::<js_sys::Object>()
    ));
    let line = js_sys::Array::from(&lines).get(0);
    assert!(js_sys::Object::is_frozen(
        line.unchecked_ref::<js_sys::Object>()
    ));
    client.add("TEA", Some(JsValue::from(1))).expect("add");
    let second = client.view();
    assert!(
        !js_sys::Object::is(&first, &second),
        "a change makes a new snapshot"
    );
    assert_eq!(
        (qty(&first, "TEA"), qty(&second, "TEA")),
        (1, 2),
        "the old one is as it was"
    );
    client
        .add("TEA", Some(JsValue::from(0)))
        .expect_err("refused");
    assert!(
        js_sys::Object::is(&second, &client.view()),
        "a refused edit changes nothing"
    );
}

#[wasm_bindgen_test]
fn each_offline_edit_is_one_pending_change_before_and_after_a_reload() {
    let prefix = fresh_prefix("pending");
    let client = offline_client(&prefix);
    let pending =
        |view: &JsValue| get(view, "pending").as_f64().expect("pending is a number") as u32;
    assert_eq!(pending(&client.view()), 0);
    client.add("TEA", Some(JsValue::from(1))).expect("add");
    client.add("CUP", Some(JsValue::from(1))).expect("add");
    client
        .remove("MUG")
        .expect("removing an absent line changes nothing");
    client.set_selected("TEA", false).expect("deselect");
    client.set_selected("TEA", false).expect("no change");
    assert_eq!(pending(&client.view()), 3);
    let ops = js_sys::JSON::parse(r#"[{"op":"add","sku":"PEN"},{"op":"remove","sku":"CUP"}]"#)
        .expect("json");
    client.batch(ops).expect("batch");
    assert_eq!(pending(&client.view()), 4, "a batch is one change");
    client.undo().expect("undo the batch's removal");
    assert_eq!(pending(&client.view()), 5);
    assert_eq!(
        pending(&offline_client(&prefix).view()),
        5,
        "counted again from storage"
    );
}
