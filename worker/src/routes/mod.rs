//! The public HTTP API as one route table: `(method, path)` -> one handler per resource (`carts`, `me`,
//! `commerce`, `dev`), over one [`Ctx`] built per request. Every handler answers an [`Answer`]; cart views are
//! priced from the catalog, tagged and (for a GET) answered 304 in one place on the way out ([`finish`]); every
//! failure becomes a coded JSON error. See `openapi.yaml` for the contract.

mod carts;
mod commerce;
#[cfg(feature = "dev")]
mod dev;
#[cfg(feature = "dev")]
pub use dev::enabled as dev_enabled;
mod me;

use serde_json::Value;
use worker::{Env, Method, Request, Response};

use crate::catalog;
use crate::cors::Cors;
use crate::ctx::{Ctx, Reply};
use crate::error::{ApiError, ApiResult};
use crate::http::{self, only};
use crate::object::now_ms;

/// What a handler answers.
pub enum Answer {
    /// A cart view from a cart's object: priced from the catalog on the way out, with an `ETag` over the priced
    /// body. Errors pass through.
    View(Reply),
    /// A JSON object holding a cart view under `cart` (merge, copy, share answers): the view is priced the same way.
    Holding(Response),
    /// Sent as it is (sync messages, checkout snapshots, the catalog, dev routes).
    Plain(Response),
}

/// Answers one request; every failure becomes a coded JSON error. Each request is logged as one JSON line
/// (method, route, cart, status, duration, error code) and timed in a `Server-Timing` header.
pub async fn handle(req: Request, env: Env) -> worker::Result<Response> {
    let started = now_ms();
    let method = req.method();
    let path = req.path();
    let origin = req.headers().get("origin").ok().flatten();
    let cors = Cors::new(&env, http::origin_of(&req.inner().url()).to_owned());
    let result = if method == Method::Options {
        cors.preflight(origin.as_deref())
    } else {
        answer(req, env).await
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

async fn answer(req: Request, env: Env) -> ApiResult<Response> {
    // workers-rs reads a method it does not know (QUERY, say) as GET. Such a request is routed as a TRACE, which
    // no route takes, so it gets the route's 405 with its `Allow` (or the 404 of a path that is not there).
    let raw = req.inner().method().to_ascii_uppercase();
    let mut req = if [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE",
    ]
    .contains(&raw.as_str())
    {
        req
    } else {
        let mut init = worker::RequestInit::new();
        init.with_method(Method::Trace)
            .with_headers(req.headers().clone());
        Request::new_with_init(&req.inner().url(), &init)?
    };
    let ctx = Ctx::new(env, &req)?;
    let conditional = match req.method() {
        Method::Get => req.headers().get("if-none-match")?,
        _ => None,
    };
    let answer = route(&mut req, &ctx).await?;
    finish(&ctx, answer, conditional.as_deref()).await
}

/// The route table.
async fn route(req: &mut Request, ctx: &Ctx) -> ApiResult<Answer> {
    let path = req.path();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let method = req.method();
    if segments.first() == Some(&"v1") {
        let writes = matches!(method, Method::Post | Method::Patch | Method::Delete)
            || req.headers().get("upgrade")?.is_some();
        ctx.take_client_token(writes)?;
    }
    match segments.as_slice() {
        ["health"] => health(&method),
        ["v1", "catalog"] => catalog_list(&method, ctx).await,
        ["v1", "shared", token] => commerce::shared(&method, ctx, token).await,
        ["v1", "carts", id, rest @ ..] => carts::guest(req, ctx, id, rest).await,
        ["v1", "me", "cart", rest @ ..] => me::route(req, ctx, rest).await,
        // Dev and test builds only (cargo feature `dev`): a production build has no such routes and no code
        // behind them.
        #[cfg(feature = "dev")]
        ["v1", "dev", rest @ ..] => dev::route(req, ctx, rest).await,
        _ => Err(ApiError::not_found()),
    }
}

fn health(method: &Method) -> ApiResult<Answer> {
    only(method, &[Method::Get])?;
    let body = serde_json::json!({
        "ok": true, "schema": cart_core::SCHEMA_VERSION, "layout": cart_core::LAYOUT,
    });
    Ok(Answer::Plain(Response::from_json(&body)?))
}

async fn catalog_list(method: &Method, ctx: &Ctx) -> ApiResult<Answer> {
    only(method, &[Method::Get])?;
    let products = catalog::list(&ctx.env).await?;
    let mut response = Response::from_json(&serde_json::json!({ "products": &*products }))?;
    // The same for everyone; the isolate reuses it for LIST_CACHE_MS, so may a browser or a CDN.
    response.headers_mut().set(
        "cache-control",
        &format!("public, max-age={}", catalog::LIST_CACHE_MS / 1000),
    )?;
    Ok(Answer::Plain(response))
}

/// The way out: a [`Answer::View`] or [`Answer::Holding`] that succeeded is priced, gets an `ETag`
/// over the whole body as sent (catalog join included, so a price or stock change is a new `ETag`) and, for a GET
/// whose `If-None-Match` names it, becomes a 304.
async fn finish(ctx: &Ctx, answer: Answer, if_none_match: Option<&str>) -> ApiResult<Response> {
    let (bytes, status) = match answer {
        Answer::Plain(response) => return Ok(response),
        Answer::View(reply) => {
            if !reply.is_json() || !(200..300).contains(&reply.status) {
                return reply.into_response();
            }
            let status = reply.status;
            (catalog::price_json(&ctx.env, &reply.body).await?, status)
        }
        Answer::Holding(mut response) => {
            let json = response
                .headers()
                .get("content-type")?
                .is_some_and(|t| t.starts_with("application/json"));
            let status = response.status_code();
            if !json || !(200..300).contains(&status) {
                return Ok(response);
            }
            let mut body: Value = response.json().await?;
            if let Some(cart) = body.get_mut("cart") {
                let freshness = catalog::Freshness::of_views(&ctx.env);
                *cart = catalog::price_value(&ctx.env, cart.take(), freshness).await?;
            }
            let bytes =
                serde_json::to_vec(&body).map_err(|e| ApiError::internal("priced answer", e))?;
            (bytes, status)
        }
    };
    let etag = http::body_etag(&bytes);
    if status == 200 && if_none_match.is_some_and(|tags| http::names_etag(tags, &etag)) {
        return http::not_modified(&etag);
    }
    let mut priced = Response::from_bytes(bytes)?.with_status(status);
    let headers = priced.headers_mut();
    headers.set("content-type", "application/json")?;
    headers.set("etag", &etag)?;
    headers.set("cache-control", http::PRIVATE_REVALIDATE)?;
    Ok(priced)
}
