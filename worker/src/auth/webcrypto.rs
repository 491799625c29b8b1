//! The runtime's part of verifying a provider's tokens: fetching the key set, importing its keys and checking
//! signatures with Web Crypto (`crypto.subtle`), which costs the bundle nothing and verifies several times faster
//! than RustCrypto in wasm (BENCHMARKS.md "Verifying identity providers' tokens"). The isolate keeps one
//! [`jwks::Cache`]; no `RefCell` borrow is held across an `.await`.

use std::cell::RefCell;
use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::StreamExt;
use worker::js_sys::{self, Array, Promise, Uint8Array};
use worker::wasm_bindgen::{self, prelude::wasm_bindgen, JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{Delay, Fetch, Request, RequestInit, RequestRedirect};

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
    let started = now_ms() as f64;
    loop {
        let now = now_ms() as f64;
        let step = CACHE.with(|cell| {
            let mut cell = cell.borrow_mut();
            if cell.0 != url {
                *cell = (url.to_owned(), Cache::default());
            }
            cell.1.step(now, jws.alg, jws.kid.as_deref(), fetched)
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
            Step::Unavailable => return Err(unavailable()),
            // Another request of this isolate is fetching (the cache bounds how long it is waited for).
            // A request waits at most as long as its own fetch could take.
            Step::Wait if now - started < FETCH_TIMEOUT.as_millis() as f64 => {
                Delay::from(Duration::from_millis(jwks::WAIT_MS)).await
            }
            Step::Wait => return Err(unavailable()),
            Step::Fetch if fetched.is_none() => {
                let timeout = Delay::from(FETCH_TIMEOUT);
                let result = match select(Box::pin(fetch(url)), Box::pin(timeout)).await {
                    Either::Left((result, _)) => result,
                    Either::Right(_) => Err(format!("no answer within {FETCH_TIMEOUT:?}")),
                };
                if let Err(why) = &result {
                    worker::console_error!("auth: key set {url}: {why}");
                }
                fetched = Some(result.is_ok());
                CACHE.with(|cell| {
                    cell.borrow_mut()
                        .1
                        .store(now, now_ms() as f64, result.map_err(|_| ()))
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

fn unavailable() -> ApiError {
    ApiError::new(
        503,
        "AUTH_KEYS_UNAVAILABLE",
        "the identity provider's key set could not be fetched; retry shortly",
    )
    .retry_after(5)
}

/// Fetches and imports the key set: an answer other than a direct 200, over [`jwks::MAX_BYTES`] or without one
/// key that imports is a failure.
async fn fetch(url: &str) -> Result<(Keys<JsValue>, u64), String> {
    // A Request, not `Fetch::Url`: parsing with the url crate would bring its Unicode tables into the bundle. A
    // redirect is not followed (a key set URL that moves is a configuration to fix, not a hop to take on trust).
    let mut init = RequestInit::new();
    init.with_redirect(RequestRedirect::Manual);
    let request = Request::new_with_init(url, &init).map_err(|e| e.to_string())?;
    let mut response = Fetch::Request(request)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if response.status_code() != 200 {
        return Err(format!("answered {}", response.status_code()));
    }
    let header = |name: &str| response.headers().get(name).ok().flatten();
    let max_age = jwks::max_age(header("cache-control").as_deref());
    if let Some(length) = header("content-length").and_then(|l| l.trim().parse::<u64>().ok()) {
        if length > jwks::MAX_BYTES as u64 {
            return Err(format!(
                "the key set is {length} bytes, over {}",
                jwks::MAX_BYTES
            ));
        }
    }
    // Read as a stream, so a body without a length is cut off at the limit rather than held whole.
    let mut body = response.stream().map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    while let Some(chunk) = body.next().await {
        bytes.extend_from_slice(&chunk.map_err(|e| e.to_string())?);
        if bytes.len() > jwks::MAX_BYTES {
            return Err(format!("the key set is over {} bytes", jwks::MAX_BYTES));
        }
    }
    let mut keys = Vec::new();
    for jwk in jwks::parse(&bytes)? {
        match import(&jwk).await {
            Ok(handle) => keys.push((jwk, handle)),
            Err(e) => {
                worker::console_error!("auth: a key of the set does not import: {}", text(&e))
            }
        }
    }
    if keys.is_empty() {
        return Err("the key set holds no usable RS256 or ES256 signing key".to_owned());
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
