//! What clients send, parsed and validated: the JSON request bodies, cart ids, skus, quantities and tokens. Pure:
//! bytes or text in, a command or a coded error out, no request and no runtime, so the fuzz target
//! `request_body` (`fuzz/`) runs it natively.
//!
//! **Invariant:** whatever the input, the answer is `Ok` with values of the shape the core accepts, or an
//! [`ApiError`] with a 4xx status and a stable code; never a panic.

use cart_core::{validate_sku, MergePolicy, Op, OpJson, MAX_OPS};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::auth;
use crate::error::{ApiError, ApiResult};
use crate::protocol;

/// An optional member that, when given, must be of its type: `null` is not "absent" (`{"qty": null}` is
/// `INVALID_QUANTITY`, `{"selected": null}` `INVALID_BODY`), as the contract says.
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// `bytes` as JSON of type `T`: `MALFORMED_JSON` when it is not JSON, `INVALID_BODY` when it is the wrong shape.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    // Every body is an object (serde would also fill a struct from an array, member by member).
    if let Some(first) = bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        if *first != b'{' && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() {
            return Err(ApiError::new(
                400,
                "INVALID_BODY",
                "the body must be a JSON object",
            ));
        }
    }
    serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => ApiError::new(400, "INVALID_BODY", e.to_string()),
            _ => ApiError::new(400, "MALFORMED_JSON", e.to_string()),
        }
    })
}

/// Like [`parse`], but an empty (or all-whitespace) body is `T::default()`.
pub fn optional<T: DeserializeOwned + Default>(bytes: &[u8]) -> ApiResult<T> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    parse(bytes)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddLine {
    sku: String,
    #[serde(default, deserialize_with = "present")]
    qty: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchLine {
    #[serde(default, deserialize_with = "present")]
    qty: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    selected: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct MergeBody {
    guest_cart_id: String,
    #[serde(default, deserialize_with = "present")]
    policy: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TokenBody {
    user_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CopyBody {
    from: String,
}

/// `POST .../checkout` (the body is optional).
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Checkout {
    /// Remove the checked-out lines from the cart in the same write.
    #[serde(default, deserialize_with = "present")]
    pub remove_checked_out: Option<bool>,
    /// The unit prices the shopper was shown, by sku: a line whose price differs now refuses the checkout
    /// (`409 PRICE_CHANGED`).
    #[serde(default, deserialize_with = "present")]
    pub seen_prices: Option<std::collections::BTreeMap<String, Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpsBody {
    ops: Vec<Value>,
}

/// `POST .../ops {"ops": [...]}`: 1-250 operations, each checked (the first bad one refuses the batch with its
/// `index`). Whether they apply to the cart is the core's to say, against the cart and the operations before.
pub fn ops(bytes: &[u8]) -> ApiResult<Vec<Op>> {
    let body: OpsBody = parse(bytes)?;
    if body.ops.is_empty() {
        return Err(ApiError::new(
            400,
            "INVALID_BODY",
            "ops must hold 1-250 operations",
        ));
    }
    if body.ops.len() > MAX_OPS {
        return Err(ApiError::from(cart_core::EditError::TooManyOps(
            body.ops.len(),
        )));
    }
    body.ops
        .into_iter()
        .enumerate()
        .map(|(i, value)| {
            if !value.is_object() {
                return Err(
                    ApiError::new(400, "INVALID_BODY", "an operation is a JSON object").at(i),
                );
            }
            let json: OpJson = serde_json::from_value(value)
                .map_err(|e| ApiError::new(400, "INVALID_BODY", e.to_string()).at(i))?;
            Op::from_json(json).map_err(|e| ApiError::from(e).at(i))
        })
        .collect()
}

/// `POST .../lines {"sku", "qty"?}`: qty defaults to 1.
pub fn add_line(bytes: &[u8]) -> ApiResult<protocol::Add> {
    let body: AddLine = parse(bytes)?;
    Ok(protocol::Add {
        sku: valid_sku(&body.sku)?,
        qty: body.qty.as_ref().map_or(Ok(1), quantity)?,
    })
}

/// `PATCH .../lines/{sku} {"qty"?, "selected"?}`: at least one of them.
pub fn patch_line(sku: &str, bytes: &[u8]) -> ApiResult<protocol::Patch> {
    let sku = valid_sku(sku)?;
    let body: PatchLine = parse(bytes)?;
    if body.qty.is_none() && body.selected.is_none() {
        return Err(ApiError::new(
            400,
            "EMPTY_PATCH",
            "give qty and/or selected",
        ));
    }
    Ok(protocol::Patch {
        sku,
        qty: body.qty.as_ref().map(quantity).transpose()?,
        selected: body.selected,
    })
}

/// `POST /v1/me/cart/merge {"guestCartId", "policy"?}`: the guest cart id and the policy (default `max`).
pub fn merge(bytes: &[u8]) -> ApiResult<(String, MergePolicy)> {
    let body: MergeBody = parse(bytes)?;
    let policy = match body.policy.as_deref() {
        None => MergePolicy::Max,
        Some(p) => p
            .parse::<MergePolicy>()
            .map_err(|e| ApiError::new(400, "INVALID_POLICY", e.to_string()))?,
    };
    Ok((valid_cart_id(&body.guest_cart_id)?, policy))
}

/// `POST /v1/dev/token {"userId"}`: the user id.
pub fn dev_token(bytes: &[u8]) -> ApiResult<String> {
    let body: TokenBody = parse(bytes)?;
    if !auth::valid_user_id(&body.user_id) {
        return Err(ApiError::new(
            400,
            "INVALID_USER_ID",
            "userId must be 1-128 printable characters without spaces",
        ));
    }
    Ok(body.user_id)
}

/// `POST .../copy {"from"}`: the share token to copy from.
pub fn copy(bytes: &[u8]) -> ApiResult<String> {
    let body: CopyBody = parse(bytes)?;
    valid_share_token(&body.from)
}

/// `POST .../checkout` options; `seenPrices` are whole non-negative numbers.
pub fn checkout(bytes: &[u8]) -> ApiResult<Checkout> {
    let body: Checkout = optional(bytes)?;
    if let Some(seen) = &body.seen_prices {
        if let Some((sku, _)) = seen.iter().find(|(_, v)| whole(v).is_none()) {
            return Err(ApiError::new(
                400,
                "INVALID_BODY",
                format!("seenPrices.{sku} must be a whole number of minor units"),
            ));
        }
    }
    Ok(body)
}

/// A sku the core accepts (1-64 characters of `[A-Za-z0-9._-]`), or `INVALID_SKU`.
pub fn valid_sku(sku: &str) -> ApiResult<String> {
    validate_sku(sku).map_err(|e| ApiError::new(400, "INVALID_SKU", e.to_string()))?;
    Ok(sku.to_owned())
}

/// A JSON quantity: a non-negative integer that fits in 32 bits (the core checks the range each operation
/// accepts), or `INVALID_QUANTITY`.
pub fn quantity(v: &Value) -> ApiResult<u32> {
    // JSON Schema's integer: `3.0` is one.
    whole(v).and_then(|n| u32::try_from(n).ok()).ok_or_else(|| {
        ApiError::new(
            400,
            "INVALID_QUANTITY",
            format!("qty must be a whole number, got {v}"),
        )
    })
}

/// A JSON number without a fraction (`3` or `3.0`, as JSON Schema's `integer` reads them), if non-negative.
pub fn whole(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && (0.0..=u64::MAX as f64).contains(f))
            .map(|f| f as u64)
    })
}

/// A cart id: 22-64 characters of `[A-Za-z0-9_-]` (a client-made id of at least 128 random bits).
pub fn valid_cart_id(id: &str) -> ApiResult<String> {
    if (22..=64).contains(&id.len()) && base64url(id) {
        Ok(id.to_owned())
    } else {
        Err(ApiError::new(
            400,
            "INVALID_CART_ID",
            "cart ids are 22-64 characters of A-Z, a-z, 0-9, '_' and '-'",
        ))
    }
}

/// A share token: 32 random bytes, base64url (43 characters). Anything else cannot name a share: 404.
pub fn valid_share_token(token: &str) -> ApiResult<String> {
    if token_shaped(token, 43) {
        Ok(token.to_owned())
    } else {
        Err(ApiError::new(
            404,
            "SHARE_NOT_FOUND",
            "no such share link (or it expired)",
        ))
    }
}

/// A checkout id: `co_` and 16 random bytes, base64url. Anything else cannot name a checkout: 404.
pub fn valid_checkout_id(id: &str) -> ApiResult<String> {
    match id.strip_prefix("co_") {
        Some(rest) if token_shaped(rest, 22) => Ok(id.to_owned()),
        _ => Err(ApiError::new(
            404,
            "CHECKOUT_NOT_FOUND",
            "no checkout with this id in this cart",
        )),
    }
}

fn token_shaped(text: &str, len: usize) -> bool {
    text.len() == len && base64url(text)
}

/// Whether `text` is made only of base64url characters (`[A-Za-z0-9_-]`): ids and tokens.
pub fn base64url(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code<T: std::fmt::Debug>(r: ApiResult<T>) -> (u16, &'static str) {
        let e = r.expect_err("an error");
        (e.status, e.code)
    }

    #[test]
    fn a_batch_names_the_first_bad_operation_by_its_index() {
        let err = |body: &str| ops(body.as_bytes()).unwrap_err();
        let e = err(r#"{"ops":[{"op":"add","sku":"A"},{"op":"add","sku":"bad sku"}]}"#);
        assert_eq!((e.status, e.code, e.index), (400, "INVALID_SKU", Some(1)));
        let e = err(r#"{"ops":[{"op":"add","sku":"A","colour":"red"}]}"#);
        assert_eq!((e.code, e.index), ("INVALID_BODY", Some(0)));
        let e = err(r#"{"ops":[{"op":"clear"},{"op":"set","sku":"A","qty":"2"}]}"#);
        assert_eq!((e.code, e.index), ("INVALID_QUANTITY", Some(1)));
        let e = err(r#"{"ops":[{"op":"add","sku":"A","qty":null}]}"#);
        assert_eq!((e.code, e.index), ("INVALID_QUANTITY", Some(0)));
        let e = err(r#"{"ops":[{"op":"select","sku":"A","selected":null}]}"#);
        assert_eq!((e.code, e.index), ("INVALID_BODY", Some(0)));
        let e = err(r#"{"ops":[{"op":"clear"},["add","MUG",2]]}"#);
        assert_eq!((e.code, e.index), ("INVALID_BODY", Some(1)));
        let e = err(r#"{"ops":[{"op":"add","sku":"A","qty":2.5}]}"#);
        assert_eq!((e.code, e.index), ("INVALID_QUANTITY", Some(0)));
        assert_eq!(err(r#"{"ops":[]}"#).code, "INVALID_BODY");
        assert_eq!(err(r#"{"ops":{}}"#).code, "INVALID_BODY");
        assert_eq!(err("[").code, "MALFORMED_JSON");
        let many = format!(
            r#"{{"ops":[{}]}}"#,
            vec![r#"{"op":"clear"}"#; 251].join(",")
        );
        let e = err(&many);
        assert_eq!((e.code, e.index), ("TOO_MANY_OPS", None));
        assert_eq!(
            ops(br#"{"ops":[{"op":"add","sku":"A"},{"op":"selectAll","selected":false}]}"#)
                .map(|o| o.len())
                .ok(),
            Some(2)
        );
    }

    #[test]
    fn an_add_without_qty_adds_one() {
        let add = add_line(br#"{"sku":"MUG-1"}"#).expect("valid");
        assert_eq!((add.sku.as_str(), add.qty), ("MUG-1", 1));
    }

    #[test]
    fn quantities_that_are_not_whole_numbers_in_32_bits_get_invalid_quantity() {
        for qty in ["-1", "1.5", "4294967296", "\"2\"", "true", "null"] {
            let body = format!(r#"{{"sku":"A","qty":{qty}}}"#);
            let got = add_line(body.as_bytes());
            assert_eq!(code(got), (400, "INVALID_QUANTITY"), "qty {qty}");
        }
        // JSON Schema's integer: a number without a fraction, however written (the core checks the range).
        for (qty, n) in [("3.0", 3), ("1e3", 1000)] {
            let body = format!(r#"{{"sku":"A","qty":{qty}}}"#);
            assert_eq!(
                add_line(body.as_bytes()).map(|a| a.qty).ok(),
                Some(n),
                "qty {qty}"
            );
        }
    }

    #[test]
    fn not_json_is_malformed_and_the_wrong_shape_is_an_invalid_body() {
        assert_eq!(code(add_line(b"{bad")), (400, "MALFORMED_JSON"));
        assert_eq!(code(add_line(b"")), (400, "MALFORMED_JSON"));
        assert_eq!(
            code(add_line(br#"{"sku":"A","extra":1}"#)),
            (400, "INVALID_BODY")
        );
        assert_eq!(code(add_line(br#"["A"]"#)), (400, "INVALID_BODY"));
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(
            code(add_line(deep.as_bytes())).0,
            400,
            "deep nesting is refused, not a stack overflow"
        );
    }

    #[test]
    fn a_patch_must_change_something_and_name_a_valid_sku() {
        assert_eq!(code(patch_line("A", b"{}")), (400, "EMPTY_PATCH"));
        assert_eq!(
            code(patch_line("bad sku", br#"{"qty":1}"#)),
            (400, "INVALID_SKU")
        );
        let patch = patch_line("A", br#"{"selected":false}"#).expect("valid");
        assert_eq!((patch.qty, patch.selected), (None, Some(false)));
    }

    #[test]
    fn a_merge_defaults_to_max_and_refuses_unknown_policies_and_bad_ids() {
        let id = "AAAAAAAAAAAAAAAAAAAAAA";
        let (got, policy) =
            merge(format!(r#"{{"guestCartId":"{id}"}}"#).as_bytes()).expect("valid");
        assert_eq!((got.as_str(), policy), (id, MergePolicy::Max));
        let most = format!(r#"{{"guestCartId":"{id}","policy":"most"}}"#);
        assert_eq!(code(merge(most.as_bytes())), (400, "INVALID_POLICY"));
        assert_eq!(
            code(merge(br#"{"guestCartId":"short"}"#)),
            (400, "INVALID_CART_ID")
        );
    }

    #[test]
    fn a_malformed_share_token_or_checkout_id_names_nothing_and_is_a_404() {
        assert_eq!(code(copy(br#"{"from":"short"}"#)), (404, "SHARE_NOT_FOUND"));
        assert_eq!(
            code(valid_checkout_id("co_short")),
            (404, "CHECKOUT_NOT_FOUND")
        );
        assert!(valid_share_token(&"A".repeat(43)).is_ok());
    }

    #[test]
    fn an_empty_checkout_body_means_the_defaults() {
        assert_eq!(checkout(b"  \n").expect("valid").remove_checked_out, None);
        assert_eq!(code(checkout(br#"{"remove":true}"#)), (400, "INVALID_BODY"));
    }
}
