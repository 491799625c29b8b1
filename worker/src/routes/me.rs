//! The signed-in user's cart (`/v1/me/cart/...`): the bearer token names it, and the login merge brings a guest
//! cart into it.

use worker::{Method, Request};

use super::{carts, Answer};
use crate::ctx::{Ctx, Target};
use crate::error::ApiResult;
use crate::http::{self, only, read_json_bytes};
use crate::input;
use crate::protocol::op;

/// `/v1/me/cart/<rest>`.
pub async fn route(req: &mut Request, ctx: &Ctx, rest: &[&str]) -> ApiResult<Answer> {
    if rest == ["merge"] {
        only(&req.method(), &[Method::Post])?;
        let user = authenticate(req, ctx).await?;
        return merge(req, ctx, user).await;
    }
    let target = Target::User(authenticate(req, ctx).await?);
    carts::route(req, ctx, &target, rest).await
}

/// The user cart a request's bearer token opens: `401` without a valid one.
async fn authenticate(req: &Request, ctx: &Ctx) -> ApiResult<String> {
    let now = crate::object::now_ms() / 1000;
    ctx.auth.cart_for(ctx.auth.header_of(req)?, now).await
}

/// `POST /v1/me/cart/merge {"guestCartId", "policy"}`: the login merge, done by the shop's server.
async fn merge(req: &mut Request, ctx: &Ctx, user: String) -> ApiResult<Answer> {
    let bytes = read_json_bytes(req).await?;
    let keyed = http::idempotency(req, &bytes)?;
    let (guest_id, policy) = input::merge(&bytes)?;
    let guest = Target::Guest(guest_id.clone());
    let user = Target::User(user);
    let mut guest_copy = ctx.get(&guest, op::SAVE).await?;
    if guest_copy.status_code() != 200 {
        // An error reading the guest cart is not an empty guest cart.
        return Ok(Answer::Plain(guest_copy));
    }
    let bytes = guest_copy.bytes().await?;
    let merged = carts::merge_into(ctx, &user, &guest_id, bytes, policy, &keyed).await?;
    if merged.status_code() == 200 {
        // Marked only after the merge is durable; a retry after a failure here merges nothing twice.
        ctx.post(&guest, op::MARK_MERGED).await?;
    }
    Ok(Answer::Holding(merged))
}
