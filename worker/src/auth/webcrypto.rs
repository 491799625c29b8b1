//! The runtime's part of verifying a provider's tokens: fetching the key set, importing its keys and checking
//! signatures with Web Crypto (`crypto.subtle`), which costs the bundle nothing and verifies several times faster
//! than RustCrypto in wasm (BENCHMARKS.md "Verifying identity providers' tokens"). The isolate keeps one
//! [`jwks::Cache`]; no `RefCell` borrow is held across an `.await`.

use std::cell::RefCell;
use std::time::Duration;

use futures_util::future::{select, Either};
use worker::js_sys::{self, Array, Promise, Uint8Array};
use worker::wasm_bindgen::{self, prelude::wasm_bindgen, JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{Delay, Fetch, Method, Request};

use super::jwks::{self, Cache, Keys, Step};
use super::token::{invalid, Alg, Jws};
use crate::error::{ApiError, ApiResult};
use crate::object::now_ms;

/// How long a key set fetch may take before the request is answered 503.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = importKey, catch)]
    fn import_key(
        format: &str,
        key: &JsValue,
        algorithm: &JsValue,
        extractable: bool,
        usages: &Array,
    ) -> Result<Promise, JsValue>;

    #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = verify, catch)]
    fn subtle_verify(
        algorithm: &JsValue,
        key: &JsValue,
        signature: &Uint8Array,
        data: &Uint8Array,
    ) -> Result<Promise, JsValue>;
}

thread_local! {
    /// The key set of `AUTH_JWKS_URL`, per isolate, with the URL it came from.
    static CACHE: RefCell<(String, Cache<JsValue>)> = RefCell::new((String::new(), Cache::default()));
}

/// Checks a provider-signed token's signature against the key set at `url`: `401` for a token no key verifies,
/// `503 AUTH_KEYS_UNAVAILABLE` when the key set cannot be had.
pub async fn verify(url: &str, jws: &Jws<'_>) -> ApiResult<()> {
    let mut fetched = None;
    loop {
        let step = CACHE.with(|cell| {
            let mut cell = cell.borrow_mut();
            if cell.0 != url {
                *cell = (url.to_owned(), Cache::default());
            }
            cell.1
                .step(now_ms() as f64, jws.alg, jws.kid.as_deref(), fetched)
        });
        match step {
            Step::Verify(key) => {
                return if check(&key, jws).await? {
                    Ok(())
                } else {
                    Err(invalid("bad_signature", "bad signature"))
                };
            }
            Step::Refuse("unknown_kid") => {
                return Err(invalid(
                    "unknown_kid",
                    "no key of the provider's key set has this kid",
                ))
            }
            Step::Refuse(reason) => {
                return Err(invalid(
                    reason,
                    "the key with this kid verifies another algorithm",
                ))
            }
            Step::Unavailable => {
                return Err(ApiError::new(
                    503,
                    "AUTH_KEYS_UNAVAILABLE",
                    "the identity provider's key set could not be fetched; retry shortly",
                )
                .retry_after(5))
            }
            Step::Fetch if fetched.is_none() => {
                let result = fetch(url).await;
                if let Err(why) = &result {
                    worker::console_error!("auth: key set {url}: {why}");
                }
                fetched = Some(result.is_ok());
                CACHE.with(|cell| {
                    cell.borrow_mut()
                        .1
                        .store(now_ms() as f64, result.map_err(|_| ()))
                });
            }
            // The cache asks for one fetch per request at most.
            Step::Fetch => {
                return Err(ApiError::internal(
                    "auth",
                    "the key cache asked for a second fetch",
                ))
            }
        }
    }
}

async fn fetch(url: &str) -> Result<(Keys<JsValue>, u64), String> {
    // A Request, not `Fetch::Url`: parsing with the url crate would bring its Unicode tables into the bundle.
    let request = Request::new(url, Method::Get).map_err(|e| e.to_string())?;
    let fetch = Fetch::Request(request);
    let request = fetch.send();
    let timeout = Delay::from(FETCH_TIMEOUT);
    let mut response = match select(Box::pin(request), Box::pin(timeout)).await {
        Either::Left((response, _)) => response.map_err(|e| e.to_string())?,
        Either::Right(_) => return Err(format!("no answer within {FETCH_TIMEOUT:?}")),
    };
    if response.status_code() != 200 {
        return Err(format!("answered {}", response.status_code()));
    }
    let max_age = jwks::max_age(
        response
            .headers()
            .get("cache-control")
            .ok()
            .flatten()
            .as_deref(),
    );
    let bytes = response.bytes().await.map_err(|e| e.to_string())?;
    let mut keys = Vec::new();
    for jwk in jwks::parse(&bytes)? {
        match import(&jwk).await {
            Ok(handle) => keys.push((jwk, handle)),
            Err(e) => {
                worker::console_error!("auth: a key of the set does not import: {}", text(&e))
            }
        }
    }
    Ok((Keys { keys }, max_age))
}

fn algorithm(alg: Alg, for_verify: bool) -> JsValue {
    let object = js_sys::Object::new();
    let set = |k: &str, v: &str| js_sys::Reflect::set(&object, &k.into(), &v.into()).ok();
    match alg {
        Alg::Rs256 => {
            set("name", "RSASSA-PKCS1-v1_5");
            set("hash", "SHA-256");
        }
        Alg::Es256 => {
            set("name", "ECDSA");
            if for_verify {
                set("hash", "SHA-256");
            } else {
                set("namedCurve", "P-256");
            }
        }
        Alg::Hs256 => {}
    }
    object.into()
}

async fn import(jwk: &jwks::Jwk) -> Result<JsValue, JsValue> {
    let key = js_sys::JSON::parse(&jwk.import.to_string())?;
    let usages = Array::of1(&"verify".into());
    JsFuture::from(import_key(
        "jwk",
        &key,
        &algorithm(jwk.alg, false),
        false,
        &usages,
    )?)
    .await
}

async fn check(key: &JsValue, jws: &Jws<'_>) -> ApiResult<bool> {
    // A JWS ES256 signature is r || s, 64 bytes: what Web Crypto's ECDSA takes.
    if jws.alg == Alg::Es256 && jws.signature.len() != 64 {
        return Ok(false);
    }
    let signature = Uint8Array::from(&jws.signature[..]);
    let data = Uint8Array::from(jws.signing_input.as_bytes());
    let promise = subtle_verify(&algorithm(jws.alg, true), key, &signature, &data)
        .map_err(|e| ApiError::internal("verify", text(&e)))?;
    let verdict = JsFuture::from(promise)
        .await
        .map_err(|e| ApiError::internal("verify", text(&e)))?;
    Ok(verdict.as_bool() == Some(true))
}

/// A thrown JS value as text (`DataError: ...`).
fn text(value: &JsValue) -> String {
    value
        .dyn_ref::<js_sys::Object>()
        .map(|o| String::from(o.to_string()))
        .unwrap_or_else(|| "a non-object was thrown".to_owned())
}
