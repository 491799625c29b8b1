//! The server's side of a cart, asked for from the library: the priced view, checkout and share links. Prices are
//! the server's (its catalog, read fresh at checkout); the library never prices from a copy of its own.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::client::{sleep, CartClient};
use crate::error::cart_error;
use crate::js;
use crate::session::Who;

#[wasm_bindgen]
impl CartClient {
    /// The cart as the server prices it now (`GET {cartPath}`): each line with its name, unit price, currency, line
    /// total and availability, and the totals of the selected, available lines. Waits (up to `timeoutMs`, default
    /// 5000) for this browser's edits to reach the server first; throws `NOT_SYNCED` if they could not.
    #[wasm_bindgen(unchecked_return_type = "Promise<PricedCart>")]
    pub async fn priced(
        &self,
        #[wasm_bindgen(js_name = timeoutMs)] timeout_ms: Option<u32>,
    ) -> Result<JsValue, JsValue> {
        self.synced(timeout_ms).await?;
        let request = self.request("", "GET", None, None);
        send(request).await.map_err(Failed::into_error)
    }

    /// Checks out the selected, available lines at the server's current prices into an immutable snapshot (201;
    /// see the HTTP API). `options`: `idempotencyKey` (the same key answers the same snapshot; one is made when
    /// none is given, and kept while this call retries a failed connection), `removeCheckedOut`, `seenPrices` (the
    /// unit prices the shopper saw, by sku: a different price refuses with `PRICE_CHANGED`, whose `lines` hold the
    /// current ones). Waits for this browser's edits to reach the server first (`NOT_SYNCED` if they could not).
    #[wasm_bindgen(unchecked_return_type = "Promise<CheckoutSnapshot>")]
    pub async fn checkout(
        &self,
        #[wasm_bindgen(unchecked_param_type = "CheckoutOptions | undefined")] options: JsValue,
    ) -> Result<JsValue, JsValue> {
        self.synced(None).await?;
        let key = js::get_string(&options, "idempotencyKey").unwrap_or_else(new_key);
        // Built once: a retry goes to the same cart as the same session, whatever happens meanwhile (a sign-in
        // would make the same key new to another cart).
        let mut request = self.request("/checkout", "POST", Some(checkout_body(&options)), None);
        request.idempotency_key = Some(&key);
        let mut attempt = 0;
        loop {
            match send(request.clone()).await {
                Err(Failed::Network(_)) if attempt < 2 => attempt += 1,
                answer => return answer.map_err(Failed::into_error),
            }
            sleep(250 << attempt).await;
        }
    }

    /// A read-only link to a copy of the cart as it is now (`POST {cartPath}/share`): resolves to the server's
    /// answer, whose `token` opens `GET /v1/shared/{token}`. Waits for this browser's edits to reach the server
    /// first (`NOT_SYNCED` if they could not).
    #[wasm_bindgen(unchecked_return_type = "Promise<ShareLink>")]
    pub async fn share(&self) -> Result<JsValue, JsValue> {
        self.synced(None).await?;
        let request = self.request("/share", "POST", None, None);
        send(request).await.map_err(Failed::into_error)
    }
}

impl CartClient {
    /// Waits for this browser's edits to reach the server, or throws `NOT_SYNCED`.
    async fn synced(&self, timeout_ms: Option<u32>) -> Result<(), JsValue> {
        if self.flush(timeout_ms).await {
            Ok(())
        } else {
            Err(cart_error(
                "NOT_SYNCED",
                "this browser's edits have not reached the server yet (offline?); nothing was asked of it",
            ))
        }
    }

    /// A request to this cart's API path followed by `suffix`, as the current session.
    fn request<'a>(
        &self,
        suffix: &str,
        method: &'a str,
        body: Option<JsValue>,
        idempotency_key: Option<&'a str>,
    ) -> Request<'a> {
        let inner = self.inner.borrow();
        let token = match &inner.session.who {
            Who::User { token, .. } => Some(token.clone()),
            Who::Guest { .. } => None,
        };
        Request {
            url: format!("{}{}{suffix}", inner.base_url, inner.session.api_path()),
            method,
            body,
            token,
            idempotency_key,
        }
    }
}

/// A JSON request to the cart's API.
#[derive(Clone)]
pub struct Request<'a> {
    pub url: String,
    pub method: &'a str,
    /// An object, sent as JSON.
    pub body: Option<JsValue>,
    pub token: Option<String>,
    pub idempotency_key: Option<&'a str>,
}

/// Why a request got no answer to return.
pub enum Failed {
    /// No answer at all (offline, a dropped connection): the same request may be sent again.
    Network(JsValue),
    /// The server answered with an error: a `CartError` with its `code` (and `lines`, `status`).
    Refused(JsValue),
}

impl Failed {
    pub fn into_error(self) -> JsValue {
        match self {
            Failed::Network(e) | Failed::Refused(e) => e,
        }
    }
}

/// Sends `request`; the answer's JSON, or why there is none.
pub async fn send(request: Request<'_>) -> Result<JsValue, Failed> {
    let network = |why: &str| {
        Failed::Network(cart_error(
            "NETWORK_ERROR",
            &format!("the cart's server could not be reached ({why})"),
        ))
    };
    let init = js_sys::Object::new();
    js::set(&init, "method", &request.method.into());
    let headers = js_sys::Object::new();
    if let Some(body) = &request.body {
        let text = js_sys::JSON::stringify(body).map_err(|_| network("unserialisable body"))?;
        js::set(&init, "body", &text.into());
        js::set(&headers, "content-type", &"application/json".into());
    }
    if let Some(token) = &request.token {
        js::set(&headers, "authorization", &format!("Bearer {token}").into());
    }
    if let Some(key) = request.idempotency_key {
        js::set(&headers, "idempotency-key", &key.into());
    }
    js::set(&init, "headers", &headers);
    let fetch: js_sys::Function = js::global("fetch")
        .dyn_into()
        .map_err(|_| network("no fetch"))?;
    let pending = fetch
        .call2(&JsValue::UNDEFINED, &request.url.into(), &init)
        .map_err(|_| network("fetch threw"))?;
    let response = JsFuture::from(js_sys::Promise::from(pending))
        .await
        .map_err(|e| network(&js::get_string(&e, "message").unwrap_or_default()))?;
    let status = js::get(&response, "status").as_f64().unwrap_or(0.0);
    let json: js_sys::Function = js::get(&response, "json")
        .dyn_into()
        .map_err(|_| network("no body"))?;
    let body = match json.call0(&response) {
        Ok(promise) => JsFuture::from(js_sys::Promise::from(promise)).await.ok(),
        Err(_) => None,
    };
    if js::get(&response, "ok").as_bool() == Some(true) {
        // An answer cut off before its body came is no answer: the caller may ask again (a checkout is replayed
        // by its key).
        return body
            .filter(|b| b.is_object())
            .ok_or_else(|| network("the answer was cut off"));
    }
    let body = body.unwrap_or(JsValue::NULL);
    let error = js::get(&body, "error");
    let code = js::get_string(&error, "code").unwrap_or_else(|| "INTERNAL".to_owned());
    let message = js::get_string(&error, "message")
        .unwrap_or_else(|| format!("the server answered HTTP {status}"));
    let refused = cart_error(&code, &message);
    js::set(&refused, "status", &JsValue::from(status));
    let lines = js::get(&error, "lines");
    if !lines.is_undefined() {
        js::set(&refused, "lines", &lines);
    }
    Err(Failed::Refused(refused))
}

/// A fresh idempotency key: `crypto.randomUUID()` where there is one.
pub fn new_key() -> String {
    let crypto = js::global("crypto");
    js::get(&crypto, "randomUUID")
        .dyn_into::<js_sys::Function>()
        .ok()
        .and_then(|f| f.call0(&crypto).ok())
        .and_then(|v| v.as_string())
        .unwrap_or_else(crate::session::random_cart_id)
}

/// The checkout request's body: the members of `options` the server takes.
pub fn checkout_body(options: &JsValue) -> JsValue {
    let body = js_sys::Object::new();
    for member in ["removeCheckedOut", "seenPrices"] {
        let value = js::get(options, member);
        if !value.is_undefined() {
            js::set(&body, member, &value);
        }
    }
    body.into()
}
