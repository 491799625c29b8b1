//! Small, panic-free access to the JS host. Everything goes through `globalThis` so the library runs in browsers,
//! workers and Node alike.

use js_sys::{Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};

/// `globalThis[name]`, or `undefined`.
pub fn global(name: &str) -> JsValue {
    Reflect::get(&js_sys::global(), &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// `target[name]`, or `undefined`.
pub fn get(target: &JsValue, name: &str) -> JsValue {
    if !target.is_object() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(target, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

pub fn set(target: &JsValue, name: &str, value: &JsValue) {
    let _ = Reflect::set(target, &JsValue::from_str(name), value);
}

/// A string option of `target`, if present.
pub fn get_string(target: &JsValue, name: &str) -> Option<String> {
    get(target, name).as_string()
}

/// `globalThis.setTimeout(f, ms)`; returns the timer id.
pub fn set_timeout(f: &Function, ms: i32) -> Option<f64> {
    let set_timeout: Function = global("setTimeout").dyn_into().ok()?;
    set_timeout
        .call2(&JsValue::UNDEFINED, f, &JsValue::from(ms))
        .ok()
        .and_then(|v| v.as_f64())
}

/// Runs `f` when the host is idle (`requestIdleCallback`, at most 2 s later), or after the current task where
/// there is no such thing (Node, Safari). Returns whether it was scheduled.
pub fn when_idle(f: &Function) -> bool {
    if let Ok(idle) = global("requestIdleCallback").dyn_into::<Function>() {
        let options = js_sys::Object::new();
        set(&options, "timeout", &JsValue::from(2000));
        return idle.call2(&JsValue::UNDEFINED, f, &options).is_ok();
    }
    // Node's `setTimeout` answers an object, not a number: what counts is that the call went through.
    global("setTimeout")
        .dyn_into::<Function>()
        .is_ok_and(|set_timeout| {
            set_timeout
                .call2(&JsValue::UNDEFINED, f, &JsValue::from(0))
                .is_ok()
        })
}

pub fn clear_timeout(id: f64) {
    if let Ok(clear) = global("clearTimeout").dyn_into::<Function>() {
        let _ = clear.call1(&JsValue::UNDEFINED, &JsValue::from(id));
    }
}

pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// `true` unless the host says it is offline (`navigator.onLine === false`).
pub fn host_online() -> bool {
    get(&global("navigator"), "onLine").as_bool() != Some(false)
}
