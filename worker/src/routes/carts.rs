//! A cart's own routes, the same for a guest cart (`/v1/carts/{id}/...`) and the signed-in user's
//! (`/v1/me/cart/...`): the view, line edits, both sync transports, and the commerce routes on a cart.

use cart_core::MergePolicy;
use worker::{Method, Request, Response};

use super::{commerce, Answer};
use crate::ctx::{Ctx, Target};
use crate::error::{ApiError, ApiResult};
use crate::http::{self, only, read_body, read_json_bytes};
use crate::input::{self, valid_cart_id, valid_sku};
use crate::protocol::{self, op};
use crate::view::MAX_SYNC_BYTES;

/// `/v1/carts/{id}/<rest>`.
pub async fn guest(req: &mut Request, ctx: &Ctx, id: &str, rest: &[&str]) -> ApiResult<Answer> {
    let target = Target::Guest(valid_cart_id(id)?);
    route(req, ctx, &target, rest).await
}

/// The routes under a cart.
pub async fn route(
    req: &mut Request,
    ctx: &Ctx,
    target: &Target,
    rest: &[&str],
) -> ApiResult<Answer> {
    let method = req.method();
    match rest {
        [] => {
            only(&method, &[Method::Get])?;
            Ok(Answer::View(
                ctx.reply(target, op::VIEW, Method::Get, None, &[]).await?,
            ))
        }
        ["lines"] => {
            only(&method, &[Method::Post])?;
            let bytes = read_json_bytes(req).await?;
            let keyed = http::idempotency(req, &bytes)?;
            let cmd = input::add_line(&bytes)?;
            Ok(Answer::View(
                ctx.reply_json(target, op::ADD, &cmd, &keyed).await?,
            ))
        }
        ["lines", sku] => {
            let sku = valid_sku(sku)?;
            only(&method, &[Method::Patch, Method::Delete])?;
            let answer = if method == Method::Delete {
                let keyed = http::idempotency(req, &[])?;
                let cmd = protocol::Remove { sku };
                ctx.reply_json(target, op::REMOVE, &cmd, &keyed).await?
            } else {
                let bytes = read_json_bytes(req).await?;
                let keyed = http::idempotency(req, &bytes)?;
                let cmd = input::patch_line(&sku, &bytes)?;
                ctx.reply_json(target, op::PATCH, &cmd, &keyed).await?
            };
            Ok(Answer::View(answer))
        }
        ["ops"] => {
            only(&method, &[Method::Post])?;
            let bytes = read_json_bytes(req).await?;
            let keyed = http::idempotency(req, &bytes)?;
            // Checked here, so a malformed batch wakes no object.
            input::ops(&bytes)?;
            Ok(Answer::View(
                ctx.reply(target, op::OPS, Method::Post, Some(bytes), &keyed)
                    .await?,
            ))
        }
        ["checkout"] => {
            only(&method, &[Method::Post])?;
            commerce::checkout(req, ctx, target).await
        }
        ["checkouts", checkout_id] => {
            only(&method, &[Method::Get])?;
            let id = input::valid_checkout_id(checkout_id)?;
            let header = [(protocol::CHECKOUT_ID_HEADER, id)];
            let snapshot = ctx
                .send(target, op::CHECKOUT_GET, Method::Get, None, &header)
                .await?;
            Ok(Answer::Plain(snapshot))
        }
        ["share"] => {
            only(&method, &[Method::Post])?;
            commerce::share(req, ctx, target).await
        }
        ["copy"] => {
            only(&method, &[Method::Post])?;
            commerce::copy(req, ctx, target).await
        }
        ["sync"] if method == Method::Get => {
            check_layout(req)?;
            if !http::is_websocket_upgrade(req)? {
                return Err(ApiError::new(
                    426,
                    "UPGRADE_REQUIRED",
                    "GET on the sync route needs Upgrade: websocket",
                ));
            }
            let upgrade = [("upgrade", "websocket".to_owned())];
            let socket = ctx
                .send(target, op::SOCKET, Method::Get, None, &upgrade)
                .await?;
            Ok(Answer::Plain(socket))
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
            let reply = ctx
                .send(target, op::SYNC, Method::Post, Some(body), &[])
                .await?;
            Ok(Answer::Plain(reply))
        }
        _ => Err(ApiError::not_found()),
    }
}

/// Merges the cart in `bytes`, named `source` (a guest cart id, or `share:<token>`), into `target` by `policy` (the
/// login merge; also copying a share into a cart): idempotent per source state. Answers `{"merged": report,
/// "cart": view}` (a [`Answer::Holding`] to the caller).
pub async fn merge_into(
    ctx: &Ctx,
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
    let headers = [
        &[
            (protocol::POLICY_HEADER, policy_name.to_owned()),
            (protocol::SOURCE_HEADER, source.to_owned()),
        ],
        keyed,
    ]
    .concat();
    ctx.send(target, op::MERGE_GUEST, Method::Post, Some(bytes), &headers)
        .await
}

/// Refuses sync with a replica that announces (`?layout=N`) an older cart layout than this worker writes: its
/// changes would misread the cart, so it is told to upgrade (`426 UPGRADE_REQUIRED`) before anything is exchanged.
/// A replica that announces nothing is taken to be of layout 2, the last one before layouts were announced.
fn check_layout(req: &Request) -> ApiResult<()> {
    let announced = http::query_param(req, "layout").map(|v| v.parse::<u64>());
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
