//! The public HTTP API: routing, authentication, validation and size limits, then one command to the cart's
//! Durable Object. See `openapi.yaml` for the contract.

use cart_core::{validate_sku, MergePolicy};
use serde::Deserialize;
use serde_json::Value;
use worker::{Env, Headers, Method, Request, RequestInit, Response, Stub};

use crate::auth;
use crate::cors::Cors;
use crate::error::{ApiError, ApiResult};
use crate::protocol::{self, op};
use crate::view::{MAX_JSON_BYTES, MAX_SYNC_BYTES};

/// Lifetime of tokens from the dev token route.
const DEV_TOKEN_TTL_SECS: i64 = 24 * 3600;
/// Shortest accepted `CART_JWT_SECRET`.
const MIN_SECRET_LEN: usize = 16;

/// Which cart a request addresses. Guest and user carts live in separate Durable Object name spaces, so no guest
/// id can ever name a user's cart.
enum Target {
    Guest(String),
    User(String),
}

impl Target {
    fn object_name(&self) -> String {
        match self {
            Target::Guest(id) => format!("guest:{id}"),
            Target::User(sub) => format!("user:{sub}"),
        }
    }

    fn public_id(&self) -> &str {
        match self {
            Target::Guest(id) => id,
            Target::User(_) => "me",
        }
    }
}

/// Answers one request; every failure becomes a coded JSON error.
pub async fn handle(req: Request, env: Env) -> worker::Result<Response> {
    let origin = req.headers().get("origin").ok().flatten();
    let own_origin = req
        .url()
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let cors = Cors::new(&env, own_origin);
    let result = if req.method() == Method::Options {
        cors.preflight(origin.as_deref())
    } else {
        route(req, &env).await
    };
    let mut response = match result {
        Ok(response) => response,
        Err(e) => e.to_response()?,
    };
    if response.status_code() != 101 {
        cors.decorate(&mut response, origin.as_deref());
    }
    Ok(response)
}

async fn route(mut req: Request, env: &Env) -> ApiResult<Response> {
    let url = req.url()?;
    let segments: Vec<String> = url
        .path()
        .trim_start_matches('/')
        .split('/')
        .map(str::to_owned)
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = req.method();
    match segments.as_slice() {
        ["health"] => {
            only(&method, &[Method::Get])?;
            Ok(Response::from_json(
                &serde_json::json!({ "ok": true, "schema": cart_core::SCHEMA_VERSION }),
            )?)
        }
        ["v1", "dev", "token"] => {
            dev_only(env)?;
            only(&method, &[Method::Post])?;
            dev_token(&mut req, env).await
        }
        ["v1", "dev", "carts", id, "storage"] => {
            dev_only(env)?;
            only(&method, &[Method::Get])?;
            let target = Target::Guest(valid_cart_id(id)?);
            send(env, &target, op::STORAGE, Method::Get, None, &[]).await
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
            let mut headers = Vec::new();
            if let Some(tag) = req.headers().get("if-none-match")? {
                headers.push(("if-none-match", tag));
            }
            send(env, target, op::VIEW, Method::Get, None, &headers).await
        }
        ["lines"] => {
            only(&method, &[Method::Post])?;
            let body: AddLine = read_json(req).await?;
            let sku = valid_sku(&body.sku)?;
            let qty = match body.qty {
                None => 1,
                Some(v) => quantity(&v)?,
            };
            let cmd = protocol::Add { sku, qty };
            send_json(env, target, op::ADD, &cmd).await
        }
        ["lines", sku] => {
            let sku = valid_sku(sku)?;
            if method == Method::Delete {
                return send_json(env, target, op::REMOVE, &protocol::Remove { sku }).await;
            }
            only(&method, &[Method::Patch, Method::Delete])?;
            let body: PatchLine = read_json(req).await?;
            if body.qty.is_none() && body.selected.is_none() {
                return Err(ApiError::new(
                    400,
                    "EMPTY_PATCH",
                    "give qty and/or selected",
                ));
            }
            let qty = body.qty.as_ref().map(quantity).transpose()?;
            let cmd = protocol::Patch {
                sku,
                qty,
                selected: body.selected,
            };
            send_json(env, target, op::PATCH, &cmd).await
        }
        ["sync"] if method == Method::Get => {
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddLine {
    sku: String,
    qty: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchLine {
    qty: Option<Value>,
    selected: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct MergeBody {
    guest_cart_id: String,
    policy: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TokenBody {
    user_id: String,
}

async fn merge(req: &mut Request, env: &Env, user: String) -> ApiResult<Response> {
    let body: MergeBody = read_json(req).await?;
    let guest = Target::Guest(valid_cart_id(&body.guest_cart_id)?);
    let policy = match body.policy.as_deref() {
        None => MergePolicy::Max,
        Some(p) => p
            .parse::<MergePolicy>()
            .map_err(|e| ApiError::new(400, "INVALID_POLICY", e.to_string()))?,
    };
    let user = Target::User(user);
    let mut guest_copy = send(env, &guest, op::SAVE, Method::Get, None, &[]).await?;
    let bytes = guest_copy.bytes().await?;
    let policy_name = if policy == MergePolicy::Sum {
        "sum"
    } else {
        "max"
    };
    let merged = send(
        env,
        &user,
        op::MERGE_GUEST,
        Method::Post,
        Some(bytes),
        &[(protocol::POLICY_HEADER, policy_name.into())],
    )
    .await?;
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

async fn dev_token(req: &mut Request, env: &Env) -> ApiResult<Response> {
    let body: TokenBody = read_json(req).await?;
    if !auth::valid_user_id(&body.user_id) {
        return Err(ApiError::new(
            400,
            "INVALID_USER_ID",
            "userId must be 1-128 printable characters without spaces",
        ));
    }
    let now = crate::object::now_ms() / 1000;
    let token = auth::sign(&body.user_id, &secret(env)?, now, DEV_TOKEN_TTL_SECS)?;
    Ok(Response::from_json(
        &serde_json::json!({ "token": token, "expiresIn": DEV_TOKEN_TTL_SECS }),
    )?)
}

fn authenticate(req: &Request, env: &Env) -> ApiResult<String> {
    let mut header = req.headers().get("authorization")?;
    // Browsers cannot set headers on a WebSocket handshake, so the sync upgrade may carry the token in the query.
    let upgrade = req.headers().get("upgrade")?.unwrap_or_default();
    if header.is_none() && upgrade.eq_ignore_ascii_case("websocket") {
        header = req
            .url()?
            .query_pairs()
            .find(|(k, _)| k == "access_token")
            .map(|(_, v)| format!("Bearer {v}"));
    }
    let secret = secret(env)?;
    auth::user_from_header(header, &secret, crate::object::now_ms() / 1000)
}

fn secret(env: &Env) -> ApiResult<Vec<u8>> {
    let value = env
        .secret("CART_JWT_SECRET")
        .map(|s| s.to_string())
        .or_else(|_| env.var("CART_JWT_SECRET").map(|v| v.to_string()))
        .unwrap_or_default();
    if value.len() < MIN_SECRET_LEN {
        return Err(ApiError::new(
            500,
            "AUTH_NOT_CONFIGURED",
            "CART_JWT_SECRET is missing or shorter than 16 characters",
        ));
    }
    Ok(value.into_bytes())
}

fn dev_only(env: &Env) -> ApiResult<()> {
    match env.var("ENVIRONMENT").map(|v| v.to_string()) {
        Ok(e) if e == "dev" => Ok(()),
        _ => Err(ApiError::not_found()),
    }
}

fn only(method: &Method, allowed: &[Method]) -> ApiResult<()> {
    if allowed.contains(method) {
        Ok(())
    } else {
        Err(ApiError::new(
            405,
            "METHOD_NOT_ALLOWED",
            format!("{method:?} is not allowed here"),
        ))
    }
}

/// A cart id: 22-64 characters of `[A-Za-z0-9_-]` (a client-made id of at least 128 random bits).
fn valid_cart_id(id: &str) -> ApiResult<String> {
    let ok = (22..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(id.to_owned())
    } else {
        Err(ApiError::new(
            400,
            "INVALID_CART_ID",
            "cart ids are 22-64 characters of A-Z, a-z, 0-9, '_' and '-'",
        ))
    }
}

fn valid_sku(sku: &str) -> ApiResult<String> {
    validate_sku(sku).map_err(|e| ApiError::new(400, "INVALID_SKU", e.to_string()))?;
    Ok(sku.to_owned())
}

/// A JSON quantity: a non-negative integer (the core checks the range the operation accepts).
fn quantity(v: &Value) -> ApiResult<u32> {
    v.as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| {
            ApiError::new(
                400,
                "INVALID_QUANTITY",
                format!("qty must be a whole number, got {v}"),
            )
        })
}

async fn read_body(req: &mut Request, limit: usize) -> ApiResult<Vec<u8>> {
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
    let bytes = req.bytes().await?;
    if bytes.len() > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

async fn read_json<T: serde::de::DeserializeOwned>(req: &mut Request) -> ApiResult<T> {
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
    let bytes = read_body(req, MAX_JSON_BYTES).await?;
    serde_json::from_slice(&bytes).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => ApiError::new(400, "INVALID_BODY", e.to_string()),
            _ => ApiError::new(400, "MALFORMED_JSON", e.to_string()),
        }
    })
}

fn stub(env: &Env, target: &Target) -> ApiResult<Stub> {
    Ok(env
        .durable_object("CARTS")?
        .id_from_name(&target.object_name())?
        .get_stub()?)
}

async fn send_json<T: serde::Serialize>(
    env: &Env,
    target: &Target,
    path: &str,
    cmd: &T,
) -> ApiResult<Response> {
    let body = serde_json::to_vec(cmd).map_err(|e| ApiError::internal("encode command", e))?;
    send(env, target, path, Method::Post, Some(body), &[]).await
}

/// Sends one command to the cart's object. Non-WebSocket answers are copied into a fresh response, whose headers
/// (unlike a subrequest's) can still be changed.
async fn send(
    env: &Env,
    target: &Target,
    path: &str,
    method: Method,
    body: Option<Vec<u8>>,
    extra: &[(&str, String)],
) -> ApiResult<Response> {
    let headers = Headers::new();
    headers.set(protocol::CART_ID_HEADER, target.public_id())?;
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
    for name in ["content-type", "etag", "www-authenticate"] {
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
