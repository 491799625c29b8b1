//! Dev and test builds only (cargo feature `dev`, which `make dev` and the tests build; `wrangler deploy` builds
//! without it): routes for the demo's sign-in, benchmarks and fault injection. A production build compiles none of
//! this, and even a dev build answers these routes only with `ENVIRONMENT=dev`.

use worker::{Env, Method, Request, Response};

use super::Answer;
use crate::auth;
use crate::ctx::{Ctx, Target};
use crate::error::{ApiError, ApiResult};
use crate::http::{only, read_body, read_json_bytes};
use crate::input::{self, valid_cart_id};
use crate::protocol::{self, op};
use crate::view::MAX_SYNC_BYTES;

/// Lifetime of tokens from the dev token route.
const DEV_TOKEN_TTL_SECS: i64 = 24 * 3600;

/// `/v1/dev/<rest>`. Answers pass through unpriced.
pub async fn route(req: &mut Request, ctx: &Ctx, rest: &[&str]) -> ApiResult<Answer> {
    dev_route(req, ctx, rest).await.map(Answer::Plain)
}

async fn dev_route(req: &mut Request, ctx: &Ctx, rest: &[&str]) -> ApiResult<Response> {
    dev_only(&ctx.env)?;
    let method = &req.method();
    match rest {
        ["token"] => {
            only(method, &[Method::Post])?;
            dev_token(req, ctx).await
        }
        ["carts", id, "noop"] => {
            let target = Target::Guest(valid_cart_id(id)?);
            ctx.post(&target, op::NOOP).await
        }
        ["carts", id, "noop-write"] => {
            only(method, &[Method::Post])?;
            let target = Target::Guest(valid_cart_id(id)?);
            let body = read_body(req, 64).await?;
            let cmd: protocol::NoopWrite = if body.is_empty() {
                protocol::NoopWrite::default()
            } else {
                input::parse(&body)?
            };
            if cmd.bytes > 1 << 20 {
                return Err(ApiError::new(400, "INVALID_BODY", "at most 1 MiB of reply"));
            }
            ctx.send_json(&target, op::NOOP_WRITE, &cmd, &[]).await
        }
        // The add route without the catalog join: what pricing costs, for the server benchmark.
        ["carts", id, "lines-unpriced"] => {
            only(method, &[Method::Post])?;
            let target = Target::Guest(valid_cart_id(id)?);
            let cmd = input::add_line(&read_json_bytes(req).await?)?;
            ctx.send_json(&target, op::ADD, &cmd, &[]).await
        }
        ["carts", id, "evict"] => {
            only(method, &[Method::Post])?;
            let target = Target::Guest(valid_cart_id(id)?);
            ctx.post(&target, op::EVICT).await
        }
        ["carts", id, "seed"] => {
            only(method, &[Method::Post])?;
            let body: protocol::Seed = input::parse(&read_json_bytes(req).await?)?;
            if body.edits > 20_000 {
                return Err(ApiError::new(
                    400,
                    "INVALID_BODY",
                    "at most 20,000 edits per call",
                ));
            }
            let target = Target::Guest(valid_cart_id(id)?);
            ctx.send_json(&target, op::SEED, &body, &[]).await
        }
        // Fault injection: a sync message applied without the checks in front of Automerge (contained as usual),
        // to show that a panic inside Automerge gets a coded answer and the object keeps serving.
        ["carts", id, "sync-unchecked"] => {
            only(method, &[Method::Post])?;
            let target = Target::Guest(valid_cart_id(id)?);
            let body = read_body(req, MAX_SYNC_BYTES).await?;
            ctx.send(&target, op::SYNC_UNCHECKED, Method::Post, Some(body), &[])
                .await
        }
        // Fault injection: the Nth storage statement of the cart's next command fails. `users/<sub>` addresses a
        // user's cart, for the merge.
        [kind @ ("carts" | "users"), id, "fail"] => {
            only(method, &[Method::Post])?;
            let target = dev_target(kind, id)?;
            let cmd: protocol::Fail = input::parse(&read_json_bytes(req).await?)?;
            ctx.send_json(&target, op::FAIL, &cmd, &[]).await
        }
        [kind @ ("carts" | "users"), id, "storage"] => {
            only(method, &[Method::Get])?;
            let target = dev_target(kind, id)?;
            ctx.get(&target, op::STORAGE).await
        }
        ["carts", id, "panic"] => {
            only(method, &[Method::Post])?;
            let target = Target::Guest(valid_cart_id(id)?);
            ctx.post(&target, op::PANIC).await
        }
        _ => Err(ApiError::not_found()),
    }
}

async fn dev_token(req: &mut Request, ctx: &Ctx) -> ApiResult<Response> {
    let user_id = input::dev_token(&read_json_bytes(req).await?)?;
    let now = crate::object::now_ms() / 1000;
    // Signed with the dev key: no production build accepts it.
    let token = auth::sign(
        &user_id,
        &auth::dev_key(ctx.auth.current_secret()?)?,
        now,
        DEV_TOKEN_TTL_SECS,
    )?;
    Ok(Response::from_json(
        &serde_json::json!({ "token": token, "expiresIn": DEV_TOKEN_TTL_SECS }),
    )?)
}

fn dev_target(kind: &str, id: &str) -> ApiResult<Target> {
    Ok(if kind == "users" {
        Target::User(auth::Issuer::Shop.cart_name(id))
    } else {
        Target::Guest(valid_cart_id(id)?)
    })
}

/// Whether this dev build runs with `ENVIRONMENT=dev` (only then are dev routes and dev tokens accepted).
pub fn enabled(env: &Env) -> bool {
    dev_only(env).is_ok()
}

fn dev_only(env: &Env) -> ApiResult<()> {
    match env.var("ENVIRONMENT").map(|v| v.to_string()) {
        Ok(e) if e == "dev" => Ok(()),
        _ => Err(ApiError::not_found()),
    }
}
