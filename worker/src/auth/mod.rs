//! Who a bearer token names, and so which user cart it opens. Tokens are compact JWS (`token`): HS256 tokens the
//! shop mints with its shared secrets (`hs256`; `CART_JWT_SECRET` may hold several, so one can be rotated out),
//! and in dev builds the dev token route's tokens under a key of their own.
//!
//! User carts are keyed by issuer and user ([`Issuer::cart_name`]): a shop token and a dev token that name the same
//! user open different carts.

mod hs256;
pub mod token;

#[cfg(feature = "dev")]
pub use hs256::{dev_key, sign};
pub use token::valid_user_id;

use worker::{Env, Request};

use crate::error::{ApiError, ApiResult};
use crate::http;

/// Shortest accepted shared secret (HS256 keys should be at least the hash's 256 bits).
const MIN_SECRET_LEN: usize = 32;
/// Most shared secrets accepted at once (each is tried in turn).
const MAX_SECRETS: usize = 4;

/// Who signed a token, which decides the name space of the carts it opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Issuer {
    /// The shop, with one of its shared secrets.
    Shop,
    /// The dev token route (dev builds only).
    #[cfg_attr(not(any(test, feature = "dev")), allow(dead_code))]
    Dev,
}

impl Issuer {
    /// The Durable Object name of `user`'s cart. Shop carts keep the name they always had (`user:<sub>`); every
    /// other issuer has a prefix of its own, so no two issuers can name the same cart.
    pub fn cart_name(self, user: &str) -> String {
        match self {
            Issuer::Shop => format!("user:{user}"),
            Issuer::Dev => format!("dev:{user}"),
        }
    }
}

/// How this deployment verifies tokens, read from `env` once per request.
pub struct Auth {
    /// `CART_JWT_SECRET`: one or more whitespace-separated secrets of at least 32 bytes, the first the current one.
    secrets: Result<Vec<Vec<u8>>, &'static str>,
    /// Whether the dev token route's key is accepted (dev builds with `ENVIRONMENT=dev`).
    #[cfg_attr(not(any(test, feature = "dev")), allow(dead_code))]
    dev: bool,
}

impl Auth {
    pub fn from_env(env: &Env, dev: bool) -> Auth {
        // A secret (`wrangler secret put CART_JWT_SECRET`; `.dev.vars` under wrangler dev), never a [vars] entry:
        // tests/lifecycle.test.mjs checks wrangler.toml has none.
        let secrets = match env.secret("CART_JWT_SECRET") {
            Ok(value) => parse_secrets(&value.to_string()),
            Err(_) => {
                Err("CART_JWT_SECRET is missing: set it with `wrangler secret put CART_JWT_SECRET`")
            }
        };
        Auth { secrets, dev }
    }

    /// The current shared secret (the dev token route derives its key from it); `500 AUTH_NOT_CONFIGURED`
    /// without a usable one.
    #[cfg(feature = "dev")]
    pub fn current_secret(&self) -> ApiResult<&[u8]> {
        match &self.secrets {
            Ok(secrets) => Ok(&secrets[0]),
            Err(why) => Err(ApiError::new(500, "AUTH_NOT_CONFIGURED", *why)),
        }
    }

    /// The user cart an `Authorization: Bearer <jwt>` header value opens at `now` (Unix seconds).
    pub fn cart_for(&self, header: Option<String>, now: i64) -> ApiResult<String> {
        let token = bearer(header.as_deref())?;
        let secrets = match &self.secrets {
            Ok(secrets) => secrets,
            Err(why) => return Err(ApiError::new(500, "AUTH_NOT_CONFIGURED", *why)),
        };
        let jws = token::parse(token)?;
        if jws.alg != token::Alg::Hs256 {
            return Err(token::invalid(
                "alg_not_allowed",
                "this server accepts HS256 tokens signed with its shared secret only",
            ));
        }
        // A production build has no code that accepts the dev key.
        #[cfg(any(test, feature = "dev"))]
        let dev_signed = self.dev && hs256::signed_with(&jws, &hs256::dev_key(&secrets[0])?);
        #[cfg(not(any(test, feature = "dev")))]
        let dev_signed = false;
        let issuer = if dev_signed {
            Issuer::Dev
        } else if secrets.iter().any(|s| hs256::signed_with(&jws, s)) {
            Issuer::Shop
        } else {
            return Err(token::invalid("bad_signature", "bad signature"));
        };
        // Only a token we signed gets its claims read.
        let rules = token::Rules {
            issuers: &[],
            audiences: &[],
            user_claim: "sub",
        };
        let (_, user) = token::check(&jws.claims()?, &rules, now)?;
        Ok(issuer.cart_name(&user))
    }
}

/// The token in an `Authorization: Bearer <token>` header value: `401 MISSING_TOKEN` without one.
fn bearer(header: Option<&str>) -> ApiResult<&str> {
    let missing = |why: &str| ApiError::new(401, "MISSING_TOKEN", why.to_owned());
    let header = header.ok_or_else(|| missing("an Authorization: Bearer token is required"))?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .ok_or_else(|| missing("the Authorization header must be 'Bearer <token>'"))?;
    Ok(token.trim())
}

/// The bearer token of a request: its `Authorization` header, or for a WebSocket upgrade (browsers cannot set
/// headers on one) the `access_token` query parameter.
pub fn header_of(req: &Request) -> ApiResult<Option<String>> {
    let mut header = req.headers().get("authorization")?;
    if header.is_none() && http::is_websocket_upgrade(req)? {
        header = http::query_param(req, "access_token").map(|v| format!("Bearer {v}"));
    }
    Ok(header)
}

fn parse_secrets(value: &str) -> Result<Vec<Vec<u8>>, &'static str> {
    let secrets: Vec<Vec<u8>> = value
        .split_whitespace()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    if secrets.is_empty() || secrets.iter().any(|s| s.len() < MIN_SECRET_LEN) {
        return Err("CART_JWT_SECRET must hold one or more secrets of at least 32 bytes, separated by spaces");
    }
    if secrets.len() > MAX_SECRETS {
        return Err("CART_JWT_SECRET holds more than 4 secrets");
    }
    Ok(secrets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_secret_may_hold_several_secrets_the_first_being_current() {
        let a = "a".repeat(32);
        let b = "b".repeat(40);
        let secrets = parse_secrets(&format!(" {a}  {b}\n")).expect("two secrets");
        assert_eq!(secrets, vec![a.clone().into_bytes(), b.into_bytes()]);
        assert!(parse_secrets("short").is_err());
        assert!(parse_secrets(&format!("{a} short")).is_err());
        assert!(parse_secrets("   ").is_err());
        assert!(parse_secrets(&[a.as_str(); 5].join(" ")).is_err());
    }

    #[test]
    fn each_issuer_names_user_carts_in_its_own_name_space() {
        assert_eq!(Issuer::Shop.cart_name("ann"), "user:ann");
        assert_ne!(Issuer::Dev.cart_name("ann"), Issuer::Shop.cart_name("ann"));
    }

    #[test]
    fn the_authorization_header_must_be_a_bearer_token() {
        assert_eq!(bearer(None).unwrap_err().code, "MISSING_TOKEN");
        assert_eq!(bearer(Some("Basic abc")).unwrap_err().code, "MISSING_TOKEN");
        assert_eq!(bearer(Some("Bearer x.y.z ")).ok(), Some("x.y.z"));
    }
}
