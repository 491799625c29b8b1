//! Who a bearer token names, and so which user cart it opens. Tokens are compact JWS (`token`): RS256 and ES256
//! tokens of the shop's identity provider, verified against its published key set (`AUTH_JWKS_URL`; `jwks` keeps
//! and refreshes it, `webcrypto` fetches, imports and verifies), with `iss`, `aud` and the user claim as
//! configured; HS256 tokens the shop mints with its shared secrets (`hs256`; `CART_JWT_SECRET` may hold several,
//! so one can be rotated out); and in dev builds the dev token route's tokens under a key of their own.
//!
//! User carts are keyed by issuer and user ([`Issuer::cart_name`]): a shop token and a dev token that name the same
//! user open different carts.

mod hs256;
mod jwks;
pub mod token;
mod webcrypto;

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issuer {
    /// The identity provider behind `AUTH_JWKS_URL`, by the token's `iss` (empty without one).
    Provider(String),
    /// The shop, with one of its shared secrets.
    Shop,
    /// The dev token route (dev builds only).
    #[cfg_attr(not(any(test, feature = "dev")), allow(dead_code))]
    Dev,
}

impl Issuer {
    /// The Durable Object name of `user`'s cart. Shop carts keep the name they always had (`user:<sub>`); every
    /// other issuer has a prefix of its own, so no two issuers can name the same cart.
    pub fn cart_name(&self, user: &str) -> String {
        match self {
            // JSON keeps the pair unambiguous whatever the issuer holds.
            Issuer::Provider(iss) => format!("idp:{}", serde_json::json!([iss, user])),
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
    /// `AUTH_JWKS_URL`: the provider's key set (https, or http on loopback for tests).
    jwks_url: Result<Option<String>, &'static str>,
    /// `AUTH_ISSUER`, `AUTH_AUDIENCE`: comma-separated accepted values; empty: not checked.
    issuers: Vec<String>,
    audiences: Vec<String>,
    /// `AUTH_USER_CLAIM`: the claim of a provider's token that names the user (default `sub`).
    user_claim: String,
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
        let var = |name: &str| env.var(name).map(|v| v.to_string()).unwrap_or_default();
        let list = |name: &str| -> Vec<String> {
            var(name)
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let user_claim = var("AUTH_USER_CLAIM").trim().to_owned();
        Auth {
            secrets,
            dev,
            jwks_url: jwks_url(var("AUTH_JWKS_URL").trim()),
            issuers: list("AUTH_ISSUER"),
            audiences: list("AUTH_AUDIENCE"),
            user_claim: if user_claim.is_empty() {
                "sub".to_owned()
            } else {
                user_claim
            },
        }
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
    pub async fn cart_for(&self, header: Option<String>, now: i64) -> ApiResult<String> {
        let token = bearer(header.as_deref())?;
        let not_configured = |why: &str| ApiError::new(500, "AUTH_NOT_CONFIGURED", why.to_owned());
        let jwks_url = self.jwks_url.as_ref().map_err(|why| not_configured(why))?;
        if self.secrets.is_err() && jwks_url.is_none() {
            return Err(not_configured(
                self.secrets.as_ref().err().copied().unwrap_or_default(),
            ));
        }
        let jws = token::parse(token)?;
        let issuer = match jws.alg {
            token::Alg::Hs256 => self.shared_secret_issuer(&jws)?,
            token::Alg::Rs256 | token::Alg::Es256 => {
                let Some(url) = jwks_url else {
                    return Err(token::invalid(
                        "alg_not_allowed",
                        "RS256 and ES256 tokens need AUTH_JWKS_URL, which this server does not set",
                    ));
                };
                webcrypto::verify(url, &jws).await?;
                Issuer::Provider(String::new())
            }
        };
        // Only a token whose signature holds gets its claims read.
        let claims = jws.claims()?;
        let (iss, user) = match issuer {
            Issuer::Provider(_) => {
                let rules = token::Rules {
                    issuers: &self.issuers,
                    audiences: &self.audiences,
                    user_claim: &self.user_claim,
                };
                let (iss, user) = token::check(&claims, &rules, now)?;
                (Issuer::Provider(iss), user)
            }
            shared => {
                let rules = token::Rules {
                    issuers: &[],
                    audiences: &[],
                    user_claim: "sub",
                };
                (shared, token::check(&claims, &rules, now)?.1)
            }
        };
        Ok(iss.cart_name(&user))
    }

    /// Who signed an HS256 token: the shop with one of its secrets, or (dev builds) the dev token route.
    fn shared_secret_issuer(&self, jws: &token::Jws<'_>) -> ApiResult<Issuer> {
        let Ok(secrets) = &self.secrets else {
            return Err(token::invalid(
                "alg_not_allowed",
                "HS256 tokens need CART_JWT_SECRET, which this server does not set",
            ));
        };
        // A production build has no code that accepts the dev key.
        #[cfg(any(test, feature = "dev"))]
        let dev_signed = self.dev && hs256::signed_with(jws, &hs256::dev_key(&secrets[0])?);
        #[cfg(not(any(test, feature = "dev")))]
        let dev_signed = false;
        if dev_signed {
            Ok(Issuer::Dev)
        } else if secrets.iter().any(|s| hs256::signed_with(jws, s)) {
            Ok(Issuer::Shop)
        } else {
            Err(token::invalid("bad_signature", "bad signature"))
        }
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

fn jwks_url(value: &str) -> Result<Option<String>, &'static str> {
    if value.is_empty() {
        return Ok(None);
    }
    // Checked by hand: the url crate's parser would bring its Unicode tables into the bundle; the runtime's fetch
    // parses the URL itself.
    let host = |rest: &str| -> bool {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        !authority.is_empty() && !authority.contains(['@', ' ', '\\'])
    };
    let loopback = ["127.0.0.1", "localhost", "[::1]"].iter().any(|h| {
        value
            .strip_prefix("http://")
            .and_then(|rest| rest.strip_prefix(h))
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
    });
    match value.strip_prefix("https://") {
        Some(rest) if host(rest) => Ok(Some(value.to_owned())),
        _ if loopback => Ok(Some(value.to_owned())),
        _ => Err("AUTH_JWKS_URL must be an https URL (http only on loopback, for tests)"),
    }
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
        let names = [
            Issuer::Shop.cart_name("ann"),
            Issuer::Dev.cart_name("ann"),
            Issuer::Provider("https://a.example/".into()).cart_name("ann"),
            Issuer::Provider("https://b.example/".into()).cart_name("ann"),
            Issuer::Provider(String::new()).cart_name("ann"),
            // An issuer cannot smuggle a user into another issuer's name.
            Issuer::Provider("x\",\"y".into()).cart_name("z"),
            Issuer::Provider("x".into()).cart_name("y\",\"z"),
        ];
        let distinct: std::collections::HashSet<_> = names.iter().collect();
        assert_eq!(distinct.len(), names.len(), "{names:?}");
    }

    #[test]
    fn the_authorization_header_must_be_a_bearer_token() {
        assert_eq!(bearer(None).unwrap_err().code, "MISSING_TOKEN");
        assert_eq!(bearer(Some("Basic abc")).unwrap_err().code, "MISSING_TOKEN");
        assert_eq!(bearer(Some("Bearer x.y.z ")).ok(), Some("x.y.z"));
    }
}

#[cfg(test)]
mod url_tests {
    #[test]
    fn the_key_set_url_must_be_https_except_on_loopback() {
        assert_eq!(super::jwks_url(""), Ok(None));
        assert!(super::jwks_url("https://idp.example/.well-known/jwks.json").is_ok());
        assert!(super::jwks_url("http://127.0.0.1:8790/jwks").is_ok());
        assert!(super::jwks_url("http://idp.example/jwks").is_err());
        assert!(super::jwks_url("not a url").is_err());
        assert!(super::jwks_url("https:///jwks").is_err());
        assert!(super::jwks_url("https://user@idp.example/jwks").is_err());
        assert!(super::jwks_url("http://127.0.0.1.evil.example/jwks").is_err());
    }
}
