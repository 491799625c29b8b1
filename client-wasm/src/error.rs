//! Errors for JavaScript: real `Error` objects (stack included) named `CartError`, with a stable `code`.

use cart_core::EditError;
use wasm_bindgen::JsValue;

/// A `CartError` with `code` and `message`.
pub fn cart_error(code: &str, message: &str) -> JsValue {
    let error = js_sys::Error::new(message);
    error.set_name("CartError");
    crate::js::set(&error, "code", &JsValue::from_str(code));
    error.into()
}

pub fn edit_error(e: EditError) -> JsValue {
    cart_error(e.code(), &e.to_string())
}
