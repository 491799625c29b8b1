//! The view `CartClient::view()` hands out and every event carries: a plain, deeply frozen object, built once per
//! state (`ViewKey`) and handed out again until something it shows changes.

use cart_core::Line;
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};

use crate::client::{Inner, Status};
use crate::js;
use crate::session::Who;

/// Everything a view is made of, to tell whether the last one still holds.
#[derive(PartialEq, Eq)]
pub struct ViewKey {
    cart: String,
    heads: Vec<cart_core::ChangeHash>,
    status: Status,
    pending: usize,
    persisted: bool,
    can_undo: bool,
    upgrade_required: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct View<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    cart_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a str>,
    lines: &'a [Line],
    line_count: usize,
    item_count: u64,
    version: String,
    status: &'static str,
    pending: usize,
    persisted: bool,
    can_undo: bool,
    upgrade_required: bool,
}

/// The view of the cart now: the same frozen object as last time when nothing it shows has changed, so
/// frameworks comparing snapshots by identity re-render only on a real change.
pub fn view_of(inner: &mut Inner) -> JsValue {
    let pending = inner.session.pending();
    let key = ViewKey {
        cart: inner.session.who.cart_key(),
        heads: inner.session.cart.heads(),
        status: inner.status,
        pending,
        persisted: inner.persisted,
        can_undo: inner.session.undo_heads.is_some(),
        upgrade_required: inner.upgrade_required,
    };
    if let Some((cached, view)) = &inner.view {
        if *cached == key {
            return view.clone();
        }
    }
    let view = inner.session.cart.view();
    let (cart_id, user_id) = match &inner.session.who {
        Who::Guest { id } => (Some(id.as_str()), None),
        Who::User { sub, .. } => (None, Some(sub.as_str())),
    };
    let status = match inner.status {
        Status::Offline => "offline",
        Status::Connecting => "connecting",
        Status::Online => "online",
    };
    let view = View {
        cart_id,
        user_id,
        lines: &view.lines,
        line_count: view.line_count,
        item_count: view.item_count,
        version: view.version_tag(),
        status: if status == "online" && pending > 0 {
            "syncing"
        } else {
            status
        },
        pending,
        persisted: inner.persisted,
        can_undo: inner.session.undo_heads.is_some(),
        upgrade_required: inner.upgrade_required,
    };
    let value = view
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .unwrap_or(JsValue::NULL);
    freeze(&value);
    inner.view = Some((key, value.clone()));
    value
}

/// Freezes a view and its lines, so one shared snapshot cannot be changed by whoever holds it.
fn freeze(view: &JsValue) {
    let Some(object) = view.dyn_ref::<js_sys::Object>() else {
        return;
    };
    if let Some(lines) = js::get(view, "lines").dyn_ref::<js_sys::Array>() {
        for line in lines.iter() {
            if let Some(line) = line.dyn_ref::<js_sys::Object>() {
                js_sys::Object::freeze(line);
            }
        }
        js_sys::Object::freeze(lines);
    }
    js_sys::Object::freeze(object);
}
