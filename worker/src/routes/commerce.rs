//! Checkout handoff and share links, on top of the cart objects and the catalog.
//!
//! - Checkout: `POST .../checkout` with an `Idempotency-Key` freezes the selected, available lines (priced now)
//!   into an immutable snapshot kept in the cart's object. The same key answers the same snapshot; a new key after
//!   edits makes a new one. `{"removeCheckedOut": true}` also removes those lines from the cart, atomically.
//! - Share: `POST .../share` copies the cart into a read-only object named by an unguessable token (256 bits);
//!   `GET /v1/shared/{token}` shows it; `POST .../copy {"from": token}` adds its lines to another cart (a sum merge,
//!   idempotent per share, so copying twice counts once). Nobody can edit a share.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use cart_core::{ActorId, MergePolicy};
use serde_json::{json, Value};
use worker::{Method, Request, Response};

use super::{carts::merge_into, Answer};
use crate::catalog;
use crate::ctx::{Ctx, Target};
use crate::error::{ApiError, ApiResult};
use crate::http::{self, only, read_body, read_json_bytes, read_optional_json_bytes};
use crate::input;
use crate::object::now_ms;
use crate::protocol::{self, op};
use crate::view::MAX_JSON_BYTES;

/// Attempts to price and store a checkout while the cart keeps changing.
const CHECKOUT_ATTEMPTS: usize = 4;

/// `n` random bytes as base64url, from the runtime's CSPRNG (through Automerge's actor id generator).
fn random_token(n: usize) -> String {
    let mut bytes = Vec::with_capacity(n + 16);
    while bytes.len() < n {
        bytes.extend_from_slice(&ActorId::random().to_bytes()[..16]);
    }
    bytes.truncate(n);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A checkout's required `Idempotency-Key`.
fn idempotency_key(req: &Request) -> ApiResult<String> {
    let key = req.headers().get("idempotency-key")?.unwrap_or_default();
    if key.trim().is_empty() {
        return Err(ApiError::new(
            400,
            "MISSING_IDEMPOTENCY_KEY",
            "send an Idempotency-Key header (e.g. a UUID) so a retried checkout is not made twice",
        ));
    }
    http::valid_idempotency_key(&key)
}

async fn json_of(mut response: Response) -> ApiResult<Value> {
    Ok(response.json().await?)
}

/// `POST .../checkout`. The answer is the snapshot with the prices it froze (never re-priced on the way out).
pub async fn checkout(req: &mut Request, ctx: &Ctx, target: &Target) -> ApiResult<Answer> {
    checkout_snapshot(req, ctx, target).await.map(Answer::Plain)
}

async fn checkout_snapshot(req: &mut Request, ctx: &Ctx, target: &Target) -> ApiResult<Response> {
    let key = idempotency_key(req)?;
    let body = input::checkout(&read_optional_json_bytes(req).await?)?;
    let remove = body.remove_checked_out.unwrap_or(false);
    let cmd =
        |id: String, version: String, snapshot: Value, remove: Vec<String>| protocol::Checkout {
            key: key.clone(),
            id,
            version,
            snapshot,
            remove,
        };
    // A retry of a checkout already made answers the stored snapshot, whatever the cart looks like now.
    let replay = ctx
        .send_json(
            target,
            op::CHECKOUT,
            &cmd(String::new(), String::new(), Value::Null, vec![]),
            &[],
        )
        .await?;
    match replay.status_code() {
        // Not checked out under this key yet: go on.
        404 => {}
        // The stored checkout, or an error (which must not be taken for "not yet").
        _ => return Ok(replay),
    }
    for _ in 0..CHECKOUT_ATTEMPTS {
        let view = ctx.get(target, op::VIEW).await?;
        if view.status_code() != 200 {
            return Ok(view);
        }
        // Priced now, from KV (never the isolate's recent reads): these are the prices the snapshot freezes.
        let view =
            catalog::price_value(&ctx.env, json_of(view).await?, catalog::Freshness::Fresh).await?;
        if let Some(seen) = &body.seen_prices {
            price_changes(&view, seen)?;
        }
        let lines: Vec<Value> = view["lines"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|l| l["selected"] == true && l["available"] == true)
            .map(|l| {
                json!({
                    "sku": l["sku"], "name": l["name"], "qty": l["qty"],
                    "unitPrice": l["unitPrice"], "currency": l["currency"], "lineTotal": l["lineTotal"],
                })
            })
            .collect();
        if lines.is_empty() {
            return Err(ApiError::new(
                422,
                "NOTHING_TO_CHECK_OUT",
                "no selected line is available to check out",
            ));
        }
        let id = format!("co_{}", random_token(16));
        let version = view["version"].as_str().unwrap_or_default().to_owned();
        let skus: Vec<String> = lines
            .iter()
            .filter_map(|l| l["sku"].as_str().map(str::to_owned))
            .collect();
        let snapshot = json!({
            "id": id,
            "cartId": target.public_id(),
            "createdAt": now_ms(),
            "version": version,
            "currency": view["totals"]["currency"],
            "lines": lines,
            "lineCount": skus.len(),
            "itemCount": view["totals"]["selectedItems"],
            "subtotal": view["totals"]["subtotal"],
            "removedFromCart": remove,
        });
        let removed = if remove { skus } else { Vec::new() };
        let stored = ctx
            .send_json(
                target,
                op::CHECKOUT,
                &cmd(id, version, snapshot, removed),
                &[],
            )
            .await?;
        if stored.status_code() != 409 {
            return Ok(stored);
        }
    }
    Err(ApiError::new(
        409,
        "CART_CHANGED",
        "the cart kept changing while checking out; retry",
    ))
}

/// `POST .../share`: answers `201 {"token", "path", "cart"}`.
pub async fn share(req: &mut Request, ctx: &Ctx, target: &Target) -> ApiResult<Answer> {
    read_body(req, MAX_JSON_BYTES).await?;
    let mut source = ctx.get(target, op::SAVE).await?;
    if source.status_code() != 200 {
        return Ok(Answer::Plain(source));
    }
    let bytes = source.bytes().await?;
    let token = random_token(32);
    let share = Target::Share(token.clone());
    let created = ctx
        .send(&share, op::SHARE_PUT, Method::Post, Some(bytes), &[])
        .await?;
    if created.status_code() != 201 {
        return Ok(Answer::Plain(created));
    }
    let cart = json_of(created).await?;
    let body = json!({ "token": token, "path": format!("/v1/shared/{token}"), "cart": cart });
    Ok(Answer::Holding(
        Response::from_json(&body)?.with_status(201),
    ))
}

/// `GET /v1/shared/{token}`: the shared cart's view (no one's cart id in it).
pub async fn shared(method: &Method, ctx: &Ctx, token: &str) -> ApiResult<Answer> {
    only(method, &[Method::Get])?;
    let share = Target::Share(input::valid_share_token(token)?);
    Ok(Answer::View(
        ctx.reply(&share, op::SHARED_VIEW, Method::Get, None, &[])
            .await?,
    ))
}

/// `POST .../copy {"from": token}`: adds the shared cart's lines to this one.
pub async fn copy(req: &mut Request, ctx: &Ctx, target: &Target) -> ApiResult<Answer> {
    let bytes = read_json_bytes(req).await?;
    let keyed = http::idempotency(req, &bytes)?;
    let from = input::copy(&bytes)?;
    let source = format!("share:{from}");
    let share = Target::Share(from);
    let mut shared = ctx.get(&share, op::SHARED_SAVE).await?;
    if shared.status_code() != 200 {
        return Ok(Answer::Plain(shared));
    }
    let bytes = shared.bytes().await?;
    let merged = merge_into(ctx, target, &source, bytes, MergePolicy::Sum, &keyed).await?;
    Ok(Answer::Holding(merged))
}

/// `409 PRICE_CHANGED` listing the selected lines whose unit price now differs from the one the shopper saw
/// (`seenPrices`), so the page can show the new prices and ask again. Lines the request names no price for pass.
fn price_changes(view: &Value, seen: &std::collections::BTreeMap<String, Value>) -> ApiResult<()> {
    let changed: Vec<Value> = view["lines"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["selected"] == true && l["available"] == true)
        .filter_map(|l| {
            let sku = l["sku"].as_str()?;
            let was = input::whole(seen.get(sku)?)?;
            let now = l["unitPrice"].as_u64()?;
            (now != was).then(|| json!({ "sku": sku, "seenPrice": was, "unitPrice": now }))
        })
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    let skus: Vec<&str> = changed.iter().filter_map(|c| c["sku"].as_str()).collect();
    let mut e = ApiError::new(
        409,
        "PRICE_CHANGED",
        format!(
            "prices changed since the shopper saw them: {}",
            skus.join(", ")
        ),
    );
    e.lines = Some(Value::Array(changed));
    Err(e)
}
