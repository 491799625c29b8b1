//! The public HTTP API: routing, authentication, validation and size limits, then one command to the cart's
//! Durable Object. See `openapi.yaml` for the contract.

use cart_core::MergePolicy;
use serde_json::Value;
use worker::{Env, Headers, Method, Request, RequestInit, Response, Stub};

use crate::auth;
use crate::catalog;
use crate::commerce;
use crate::cors::Cors;
use crate::error::{ApiError, ApiResult};
use crate::input::{self, valid_cart_id, valid_sku};
use crate::object::now_ms;
use crate::protocol::{self, op};
use crate::ratelimit::{self, Rate};
use crate::view::{MAX_JSON_BYTES, MAX_SYNC_BYTES};

/// Shortest accepted `CART_JWT_SECRET` (HS256 keys should be at least the hash's 256 bits).
const MIN_SECRET_LEN: usize = 32;

/// Which cart a request addresses. Guest and user carts live in separate Durable Object name spaces, so no guest
/// id can ever name a user's cart.
/// Share links live in a third name space.
pub enum Target {
    Guest(String),
    User(String),
    Share(String),
}

impl Target {
    fn object_name(&self) -> String {
        match self {
            Target::Guest(id) => format!("guest:{id}"),
            Target::User(sub) => format!("user:{sub}"),
            Target::Share(token) => format!("share:{token}"),
        }
    }

    pub fn public_id(&self) -> &str {
        match self {
            Target::Guest(id) => id,
            Target::User(_) => "me",
            Target::Share(_) => "shared",
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Target::Guest(_) => "guest",
            Target::User(_) => "user",
            Target::Share(_) => "share",
        }
    }
}

/// Answers one request; every failure becomes a coded JSON error. Each request is logged as one JSON line
/// (method, route, cart, status, duration, error code) and timed in a `Server-Timing` header.
pub async fn handle(req: Request, env: Env) -> worker::Result<Response> {
    let started = now_ms();
    let method = req.method();
    let path = req.path();
    let origin = req.headers().get("origin").ok().flatten();
    let own_origin = origin_of(&req.inner().url()).to_owned();
    let cors = Cors::new(&env, own_origin);
    let result = if method == Method::Options {
        cors.preflight(origin.as_deref())
    } else {
        route(req, &env).await
    };
    let code = result.as_ref().err().map(|e| e.code);
    let mut response = match result {
        Ok(response) => response,
        Err(e) => e.to_response()?,
    };
    let duration = now_ms() - started;
    if response.status_code() != 101 {
        cors.decorate(&mut response, origin.as_deref());
        response
            .headers_mut()
            .set("Server-Timing", &format!("total;dur={duration}"))?;
    }
    crate::observe::log_request(&method, &path, response.status_code(), duration, code);
    Ok(response)
}

async fn route(mut req: Request, env: &Env) -> ApiResult<Response> {
    let path = req.path();
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(str::to_owned)
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = req.method();
    let writes = matches!(method, Method::Post | Method::Patch | Method::Delete)
        || req.headers().get("upgrade")?.is_some();
    if segments.first() == Some(&"v1") {
        let client = req
            .headers()
            .get("cf-connecting-ip")?
            .unwrap_or_else(|| "unknown".into());
        if writes {
            let rate = Rate::from_env(env, "CLIENT", ratelimit::CLIENT_DEFAULT);
            ratelimit::take_client(&client, rate, now_ms())?;
        } else {
            ratelimit::take_client_read(&client, Rate::reads_from_env(env), now_ms())?;
        }
    }
    // Dev and test builds only (cargo feature `dev`): a production build has no such routes and no code behind them.
    #[cfg(feature = "dev")]
    if let ["v1", "dev", rest @ ..] = segments.as_slice() {
        return crate::dev::route(rest, &mut req, env, &method).await;
    }
    match segments.as_slice() {
        ["health"] => {
            only(&method, &[Method::Get])?;
            Ok(Response::from_json(
                &serde_json::json!({ "ok": true, "schema": cart_core::SCHEMA_VERSION, "layout": cart_core::LAYOUT }),
            )?)
        }
        ["v1", "catalog"] => {
            only(&method, &[Method::Get])?;
            let products = catalog::list(env).await?;
            let mut response = Response::from_json(&serde_json::json!({ "products": &*products }))?;
            // The same for everyone; the isolate reuses it for LIST_CACHE_MS, so may a browser or a CDN.
            response.headers_mut().set(
                "cache-control",
                &format!("public, max-age={}", catalog::LIST_CACHE_MS / 1000),
            )?;
            Ok(response)
        }
        ["v1", "shared", token] => {
            only(&method, &[Method::Get])?;
            let share = Target::Share(input::valid_share_token(token)?);
            let view = send(env, &share, op::SHARED_VIEW, Method::Get, None, &[]).await?;
            not_modified(&req, priced(env, view).await?)
        }
        ["v1", "carts", id, rest @ ..] => {
            let target = Target::Guest(valid_cart_id(id)?);
            cart_route(&mut req, env, &target, rest).await
        }
        ["v1", "me", "cart", "merge"] => {
            only(&method, &[Method::Post])?;
            let user = authenticate(&req, env)?;
            merge(&mut req, env, user).await
        }
        ["v1", "me", "cart", rest @ ..] => {
            let target = Target::User(authenticate(&req, env)?);
            cart_route(&mut req, env, &target, rest).await
        }
        _ => Err(ApiError::not_found()),
    }
}

async fn cart_route(
    req: &mut Request,
    env: &Env,
    target: &Target,
    rest: &[&str],
) -> ApiResult<Response> {
    let method = req.method();
    match rest {
        [] => {
            only(&method, &[Method::Get])?;
            let view = send(env, target, op::VIEW, Method::Get, None, &[]).await?;
            not_modified(req, priced(env, view).await?)
        }
        ["lines"] => {
            only(&method, &[Method::Post])?;
            let bytes = read_json_bytes(req).await?;
            let keyed = idempotency(req, &bytes)?;
            let cmd = input::add_line(&bytes)?;
            priced(
                env,
                send_json_with(env, target, op::ADD, &cmd, &keyed).await?,
            )
            .await
        }
        ["lines", sku] => {
            let sku = valid_sku(sku)?;
            if method == Method::Delete {
                let keyed = idempotency(req, &[])?;
                let cmd = protocol::Remove { sku };
                let removed = send_json_with(env, target, op::REMOVE, &cmd, &keyed).await?;
                return priced(env, removed).await;
            }
            only(&method, &[Method::Patch, Method::Delete])?;
            let bytes = read_json_bytes(req).await?;
            let keyed = idempotency(req, &bytes)?;
            let cmd = input::patch_line(&sku, &bytes)?;
            priced(
                env,
                send_json_with(env, target, op::PATCH, &cmd, &keyed).await?,
            )
            .await
        }
        ["checkout"] => {
            only(&method, &[Method::Post])?;
            commerce::checkout(req, env, target).await
        }
        ["checkouts", checkout_id] => {
            only(&method, &[Method::Get])?;
            let id = input::valid_checkout_id(checkout_id)?;
            send(
                env,
                target,
                op::CHECKOUT_GET,
                Method::Get,
                None,
                &[(protocol::CHECKOUT_ID_HEADER, id)],
            )
            .await
        }
        ["share"] => {
            only(&method, &[Method::Post])?;
            commerce::share(req, env, target).await
        }
        ["copy"] => {
            only(&method, &[Method::Post])?;
            commerce::copy(req, env, target).await
        }
        ["sync"] if method == Method::Get => {
            check_layout(req)?;
            let upgrade = req.headers().get("upgrade")?.unwrap_or_default();
            if !upgrade.eq_ignore_ascii_case("websocket") {
                return Err(ApiError::new(
                    426,
                    "UPGRADE_REQUIRED",
                    "GET on the sync route needs Upgrade: websocket",
                ));
            }
            send(
                env,
                target,
                op::SOCKET,
                Method::Get,
                None,
                &[("upgrade", "websocket".into())],
            )
            .await
        }
        ["sync"] => {
            only(&method, &[Method::Get, Method::Post])?;
            check_layout(req)?;
            let body = read_body(req, MAX_SYNC_BYTES).await?;
            if body.is_empty() {
                return Err(ApiError::new(
                    400,
                    "MALFORMED_SYNC_MESSAGE",
                    "the body must be an Automerge sync message",
                ));
            }
            send(env, target, op::SYNC, Method::Post, Some(body), &[]).await
        }
        _ => Err(ApiError::not_found()),
    }
}

async fn merge(req: &mut Request, env: &Env, user: String) -> ApiResult<Response> {
    let bytes = read_json_bytes(req).await?;
    let keyed = idempotency(req, &bytes)?;
    let (guest_id, policy) = input::merge(&bytes)?;
    let guest = Target::Guest(guest_id.clone());
    let user = Target::User(user);
    let mut guest_copy = send(env, &guest, op::SAVE, Method::Get, None, &[]).await?;
    if guest_copy.status_code() != 200 {
        // An error reading the guest cart is not an empty guest cart.
        return Ok(guest_copy);
    }
    let bytes = guest_copy.bytes().await?;
    let merged = merge_into(env, &user, &guest_id, bytes, policy, &keyed).await?;
    if merged.status_code() == 200 {
        // Marked only after the merge is durable; a retry after a failure here merges nothing twice.
        send(
            env,
            &guest,
            op::MARK_MERGED,
            Method::Post,
            Some(Vec::new()),
            &[],
        )
        .await?;
    }
    Ok(merged)
}

/// Merges the cart in `bytes`, named `source` (a guest cart id, or `share:<token>`), into `target` by `policy` (the
/// login merge; also copying a share into a cart): idempotent per source state. Answers `{"merged": report,
/// "cart": view}` with the view priced.
pub async fn merge_into(
    env: &Env,
    target: &Target,
    source: &str,
    bytes: Vec<u8>,
    policy: MergePolicy,
    keyed: &[(&str, String)],
) -> ApiResult<Response> {
    let policy_name = if policy == MergePolicy::Sum {
        "sum"
    } else {
        "max"
    };
    let merged = send(
        env,
        target,
        op::MERGE_GUEST,
        Method::Post,
        Some(bytes),
        &[
            &[
                (protocol::POLICY_HEADER, policy_name.to_owned()),
                (protocol::SOURCE_HEADER, source.to_owned()),
            ],
            keyed,
        ]
        .concat(),
    )
    .await?;
    priced(env, merged).await
}

/// Adds catalog prices, availability and totals to a JSON cart view answered by a cart object (also inside a
/// merge answer, under `cart`). Other answers pass through.
pub async fn priced(env: &Env, mut response: Response) -> ApiResult<Response> {
    let json = response
        .headers()
        .get("content-type")?
        .is_some_and(|t| t.starts_with("application/json"));
    if !json || !(200..300).contains(&response.status_code()) {
        return Ok(response);
    }
    let status = response.status_code();
    let mut body: Value = response.json().await?;
    if body.get("lines").is_some() {
        catalog::price_view(env, &mut body).await?;
    } else if let Some(cart) = body.get_mut("cart") {
        catalog::price_view(env, cart).await?;
    }
    // The ETag covers the whole body as sent, catalog join included: a price or stock change is a new ETag.
    let bytes = serde_json::to_vec(&body).map_err(|e| ApiError::internal("priced view", e))?;
    let mut priced = Response::from_bytes(bytes.clone())?.with_status(status);
    let headers = priced.headers_mut();
    headers.set("content-type", "application/json")?;
    headers.set("etag", &body_etag(&bytes))?;
    // Browsers may keep a cart but must revalidate it on every use (If-None-Match); shared caches never keep it.
    headers.set("cache-control", "private, no-cache")?;
    Ok(priced)
}

/// A strong `ETag` for `body`: the first 128 bits of its SHA-256, in hex.
fn body_etag(body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(body);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// `304 Not Modified` (with the `ETag`, no body) when the request's `If-None-Match` names the answer's `ETag`,
/// else the answer.
fn not_modified(req: &Request, response: Response) -> ApiResult<Response> {
    let Some(etag) = response.headers().get("etag")? else {
        return Ok(response);
    };
    let matches = req.headers().get("if-none-match")?.is_some_and(|tags| {
        tags.split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == etag || t == "*")
    });
    if !matches || response.status_code() != 200 {
        return Ok(response);
    }
    let mut unchanged = Response::empty()?.with_status(304);
    unchanged.headers_mut().set("etag", &etag)?;
    unchanged
        .headers_mut()
        .set("cache-control", "private, no-cache")?;
    Ok(unchanged)
}

fn authenticate(req: &Request, env: &Env) -> ApiResult<String> {
    let mut header = req.headers().get("authorization")?;
    // Browsers cannot set headers on a WebSocket handshake, so the sync upgrade may carry the token in the query.
    let upgrade = req.headers().get("upgrade")?.unwrap_or_default();
    if header.is_none() && upgrade.eq_ignore_ascii_case("websocket") {
        let url = req.inner().url();
        header = form_urlencoded::parse(query_of(&url).as_bytes())
            .find(|(k, _)| k == "access_token")
            .map(|(_, v)| format!("Bearer {v}"));
    }
    let secret = secret(env)?;
    let now = crate::object::now_ms() / 1000;
    // Dev builds also take the dev token route's tokens, signed with a key of their own (`auth::dev_key`); a
    // production build has no such path.
    #[cfg(feature = "dev")]
    if crate::dev::enabled(env) {
        if let Ok(user) = auth::user_from_header(header.clone(), &auth::dev_key(&secret)?, now) {
            return Ok(user);
        }
    }
    auth::user_from_header(header, &secret, now)
}

/// Refuses sync with a replica that announces (`?layout=N`) an older cart layout than this worker writes: its
/// changes would misread the cart, so it is told to upgrade (`426 UPGRADE_REQUIRED`) before anything is exchanged.
/// A replica that announces nothing is taken to be of layout 2, the last one before layouts were announced.
fn check_layout(req: &Request) -> ApiResult<()> {
    let url = req.inner().url();
    let announced = form_urlencoded::parse(query_of(&url).as_bytes())
        .find(|(k, _)| k == "layout")
        .map(|(_, v)| v.parse::<u64>());
    match announced {
        Some(Err(_)) => Err(ApiError::new(
            400,
            "INVALID_LAYOUT",
            "layout must be a whole number: the cart layout this replica writes",
        )),
        Some(Ok(layout)) if layout < cart_core::LAYOUT => Err(ApiError::new(
            426,
            "UPGRADE_REQUIRED",
            format!(
                "this replica writes cart layout {layout}; the server writes layout {}: upgrade the cart library",
                cart_core::LAYOUT
            ),
        )),
        None if LAYOUT_BEFORE_ANNOUNCING < cart_core::LAYOUT => Err(ApiError::new(
            426,
            "UPGRADE_REQUIRED",
            "this replica announces no layout; upgrade the cart library",
        )),
        _ => Ok(()),
    }
}

/// The layout of replicas that announce none: every release before layouts were announced wrote layout 2.
const LAYOUT_BEFORE_ANNOUNCING: u64 = 2;

// The runtime hands over URLs already serialised by the WHATWG URL parser (lower-case scheme and host, default port
// dropped), so the origin and query are plain slices of that text. Parsing them again with the `url` crate would
// link its IDNA tables into the bundle for nothing.

/// `scheme://host[:port]` of an absolute URL.
fn origin_of(url: &str) -> &str {
    let host = url.find("://").map_or(0, |i| i + 3);
    let end = url[host..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| host + i);
    &url[..end]
}

/// The query of a URL, without `?` and fragment.
fn query_of(url: &str) -> &str {
    let url = url.split_once('#').map_or(url, |(before, _)| before);
    url.split_once('?').map_or("", |(_, query)| query)
}

pub(crate) fn secret(env: &Env) -> ApiResult<Vec<u8>> {
    // A secret (`wrangler secret put CART_JWT_SECRET`; `.dev.vars` under wrangler dev), never a [vars] entry:
    // tests/lifecycle.test.mjs checks wrangler.toml has none.
    let value = env
        .secret("CART_JWT_SECRET")
        .map(|s| s.to_string())
        .unwrap_or_default();
    if value.len() < MIN_SECRET_LEN {
        return Err(ApiError::new(
            500,
            "AUTH_NOT_CONFIGURED",
            "CART_JWT_SECRET is missing or shorter than 32 bytes: set it with `wrangler secret put CART_JWT_SECRET`",
        ));
    }
    Ok(value.into_bytes())
}

pub(crate) fn only(method: &Method, allowed: &[Method]) -> ApiResult<()> {
    if allowed.contains(method) {
        Ok(())
    } else {
        Err(ApiError::new(
            405,
            "METHOD_NOT_ALLOWED",
            format!("{method} is not allowed here"),
        ))
    }
}

pub async fn read_body(req: &mut Request, limit: usize) -> ApiResult<Vec<u8>> {
    let too_large = || {
        ApiError::new(
            413,
            "PAYLOAD_TOO_LARGE",
            format!("bodies here are limited to {limit} bytes"),
        )
    };
    if let Some(len) = req.headers().get("content-length")? {
        if len.trim().parse::<usize>().map_or(true, |n| n > limit) {
            return Err(too_large());
        }
    }
    // Read in chunks and stop at the cap: a chunked body (no Content-Length) is never held whole beyond it.
    use futures_util::StreamExt;
    let mut bytes = Vec::new();
    let Ok(mut stream) = req.stream() else {
        return Ok(bytes); // no body
    };
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if bytes.len() + chunk.len() > limit {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The body of a request that must be JSON: `415` without `Content-Type: application/json`, `413` when too large.
/// [`input`] parses it.
pub async fn read_json_bytes(req: &mut Request) -> ApiResult<Vec<u8>> {
    let content_type = req.headers().get("content-type")?.unwrap_or_default();
    if !content_type
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("application/json")
    {
        return Err(ApiError::new(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "send Content-Type: application/json",
        ));
    }
    read_body(req, MAX_JSON_BYTES).await
}

fn stub(env: &Env, target: &Target) -> ApiResult<Stub> {
    Ok(env
        .durable_object("CARTS")?
        .id_from_name(&target.object_name())?
        .get_stub()?)
}

pub async fn send_json<T: serde::Serialize>(
    env: &Env,
    target: &Target,
    path: &str,
    cmd: &T,
) -> ApiResult<Response> {
    send_json_with(env, target, path, cmd, &[]).await
}

/// [`send_json`] with extra headers (an idempotency key).
pub async fn send_json_with<T: serde::Serialize>(
    env: &Env,
    target: &Target,
    path: &str,
    cmd: &T,
    extra: &[(&str, String)],
) -> ApiResult<Response> {
    let body = serde_json::to_vec(cmd).map_err(|e| ApiError::internal("encode command", e))?;
    send(env, target, path, Method::Post, Some(body), extra).await
}

/// The write's `Idempotency-Key`, if it has one, with what the request was (SHA-256 of method, path and body), as
/// headers for the cart's object (`object/idempotency.rs`). A key is 1-255 printable ASCII characters.
pub fn idempotency(req: &Request, body: &[u8]) -> ApiResult<Vec<(&'static str, String)>> {
    use sha2::{Digest, Sha256};
    let Some(key) = req.headers().get("idempotency-key")? else {
        return Ok(Vec::new());
    };
    let key = key.trim();
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::new(
            400,
            "INVALID_IDEMPOTENCY_KEY",
            "Idempotency-Key is 1-255 printable ASCII characters",
        ));
    }
    let mut hash = Sha256::new();
    hash.update(req.method().to_string().as_bytes());
    hash.update(b" ");
    hash.update(req.path().as_bytes());
    hash.update(b"\n");
    hash.update(body);
    let fingerprint: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(vec![
        (protocol::IDEMPOTENCY_KEY_HEADER, key.to_owned()),
        (protocol::FINGERPRINT_HEADER, fingerprint),
    ])
}

/// Sends one command to the cart's object. Non-WebSocket answers are copied into a fresh response, whose headers
/// (unlike a subrequest's) can still be changed.
pub async fn send(
    env: &Env,
    target: &Target,
    path: &str,
    method: Method,
    body: Option<Vec<u8>>,
    extra: &[(&str, String)],
) -> ApiResult<Response> {
    let headers = Headers::new();
    headers.set(protocol::CART_ID_HEADER, target.public_id())?;
    headers.set(protocol::KIND_HEADER, target.kind())?;
    for (name, value) in extra {
        headers.set(name, value)?;
    }
    let mut init = RequestInit::new();
    init.with_method(method).with_headers(headers);
    if let Some(body) = body {
        init.with_body(Some(js_sys_bytes(&body)));
    }
    let req = Request::new_with_init(&format!("{}{path}", protocol::ORIGIN), &init)?;
    let mut response = stub(env, target)?.fetch_with_request(req).await?;
    if response.status_code() == 101 {
        return Ok(response);
    }
    let status = response.status_code();
    let copied = Headers::new();
    for name in ["content-type", "etag", "www-authenticate", "retry-after"] {
        if let Some(value) = response.headers().get(name)? {
            copied.set(name, &value)?;
        }
    }
    let bytes = response.bytes().await?;
    Ok(Response::from_bytes(bytes)?
        .with_status(status)
        .with_headers(copied))
}

fn js_sys_bytes(bytes: &[u8]) -> wasm_bindgen::JsValue {
    worker::js_sys::Uint8Array::from(bytes).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_is_scheme_host_and_port_of_the_request_url() {
        assert_eq!(
            origin_of("https://shop.example/v1/carts/x?a=1"),
            "https://shop.example"
        );
        assert_eq!(
            origin_of("http://127.0.0.1:8787/health"),
            "http://127.0.0.1:8787"
        );
        assert_eq!(origin_of("https://shop.example"), "https://shop.example");
        assert_eq!(
            origin_of("https://shop.example?x#y"),
            "https://shop.example"
        );
    }

    #[test]
    fn the_query_stops_at_the_fragment_and_its_token_is_percent_decoded() {
        assert_eq!(
            query_of("https://a.b/sync?access_token=x#frag"),
            "access_token=x"
        );
        assert_eq!(query_of("https://a.b/sync#frag?no"), "");
        assert_eq!(query_of("https://a.b/sync"), "");
        let token =
            form_urlencoded::parse(query_of("https://a.b/s?x=1&access_token=a%2Eb.c").as_bytes())
                .find(|(k, _)| k == "access_token")
                .map(|(_, v)| v.into_owned());
        assert_eq!(token.as_deref(), Some("a.b.c"));
    }
}
