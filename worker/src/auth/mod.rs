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
    /// `CART_JWT_SECRET`: one or more whitespace-separated secrets of at least 32 bytes, the first the current one;
    /// `None` when it is not set (a deployment may use only its provider).
    secrets: Result<Option<Vec<Vec<u8>>>, &'static str>,
    /// Whether the dev token route's key is accepted (dev builds with `ENVIRONMENT=dev`).
    #[cfg_attr(not(any(test, feature = "dev")), allow(dead_code))]
    dev: bool,
    /// The identity provider, when `AUTH_JWKS_URL` is set.
    provider: Result<Option<Provider>, &'static str>,
    /// `AUTH_ACCESS_HEADER = "true"`: read Cloudflare Access's `Cf-Access-Jwt-Assertion` ([`Auth::header_of`]).
    access_header: bool,
}

/// The shop's identity provider: where its keys are and what its tokens must say.
struct Provider {
    /// `AUTH_JWKS_URL`: the key set (https, or http on loopback for tests).
    jwks_url: String,
    /// `AUTH_ISSUER` (required), `AUTH_AUDIENCE`, `AUTH_AUTHORIZED_PARTY`: comma-separated accepted values of `iss`,
    /// `aud` and `azp`; at least one of the last two is required.
    issuers: Vec<String>,
    audiences: Vec<String>,
    parties: Vec<String>,
    /// `AUTH_USER_CLAIM`: the claim that names the user (default `sub`).
    user_claim: String,
    /// With `AUTH_USER_CLAIM=email`, whether `email_verified: true` is required (`AUTH_REQUIRE_EMAIL_VERIFIED`,
    /// default true).
    email_verified: bool,
}

impl Auth {
    pub fn from_env(env: &Env, dev: bool) -> Auth {
        // A secret (`wrangler secret put CART_JWT_SECRET`; `.dev.vars` under wrangler dev), never a [vars] entry:
        // tests/lifecycle.test.mjs checks wrangler.toml has none.
        let secrets = match env.secret("CART_JWT_SECRET") {
            // Set to nothing is not set.
            Ok(value) if !value.to_string().trim().is_empty() => {
                parse_secrets(&value.to_string()).map(Some)
            }
            _ => Ok(None),
        };
        let var = |name: &str| env.var(name).map(|v| v.to_string()).unwrap_or_default();
        Auth {
            secrets,
            dev,
            provider: provider(&var),
            access_header: var("AUTH_ACCESS_HEADER").trim() == "true",
        }
    }

    /// The current shared secret (the dev token route derives its key from it); `500 AUTH_NOT_CONFIGURED`
    /// without a usable one.
    #[cfg(feature = "dev")]
    pub fn current_secret(&self) -> ApiResult<&[u8]> {
        match &self.secrets {
            Ok(Some(secrets)) => Ok(&secrets[0]),
            Ok(None) => Err(not_configured(MISSING_SECRET)),
            Err(why) => Err(not_configured(why)),
        }
    }

    /// The user cart an `Authorization: Bearer <jwt>` header value opens at `now` (Unix seconds).
    pub async fn cart_for(&self, header: Option<String>, now: i64) -> ApiResult<String> {
        let token = bearer(header.as_deref())?;
        // A configuration that is set but wrong fails every request, whichever kind of token it brings.
        let provider = self.provider.as_ref().map_err(|why| not_configured(why))?;
        let secrets = self.secrets.as_ref().map_err(|why| not_configured(why))?;
        if secrets.is_none() && provider.is_none() {
            return Err(not_configured(MISSING_SECRET));
        }
        let jws = token::parse(token)?;
        let issuer = match jws.alg {
            token::Alg::Hs256 => self.shared_secret_issuer(secrets.as_deref(), &jws)?,
            token::Alg::Rs256 | token::Alg::Es256 => {
                let Some(provider) = provider else {
                    return Err(token::invalid(
                        "alg_not_allowed",
                        "RS256 and ES256 tokens need AUTH_JWKS_URL, which this server does not set",
                    ));
                };
                webcrypto::verify(&provider.jwks_url, &jws).await?;
                Issuer::Provider(String::new())
            }
        };
        // Only a token whose signature holds gets its claims read.
        let claims = jws.claims()?;
        let (issuer, user) = match (issuer, provider) {
            (Issuer::Provider(_), Some(p)) => {
                let rules = token::Rules {
                    issuers: &p.issuers,
                    audiences: &p.audiences,
                    parties: &p.parties,
                    user_claim: &p.user_claim,
                    email_verified: p.email_verified,
                };
                let (iss, user) = token::check(&claims, &rules, now)?;
                (Issuer::Provider(iss), user)
            }
            (shared, _) => (shared, token::check(&claims, &token::Rules::SHARED, now)?.1),
        };
        Ok(issuer.cart_name(&user))
    }

    /// Who signed an HS256 token: the shop with one of its secrets, or (dev builds) the dev token route.
    fn shared_secret_issuer(
        &self,
        secrets: Option<&[Vec<u8>]>,
        jws: &token::Jws<'_>,
    ) -> ApiResult<Issuer> {
        let Some(secrets) = secrets else {
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
    // The scheme is case-insensitive (RFC 9110 section 11.1).
    let token = match header.trim_start().split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => return Err(missing("the Authorization header must be 'Bearer <token>'")),
    };
    if token.is_empty() {
        return Err(missing("the Authorization header must be 'Bearer <token>'"));
    }
    Ok(token)
}

impl Auth {
    /// The bearer token of a request: its `Authorization` header; for a WebSocket upgrade (browsers cannot set
    /// headers on one) the `access_token` query parameter; and only where `AUTH_ACCESS_HEADER = "true"` (a worker
    /// behind Cloudflare Access), the token Access adds as `Cf-Access-Jwt-Assertion`. That one rides on Access's
    /// cookie, which a browser sends whoever made it send the request, so it is taken only from requests without
    /// an `Origin` (a shop's server) or from the worker's own origin; a page elsewhere gets 403.
    pub fn header_of(&self, req: &Request) -> ApiResult<Option<String>> {
        if let Some(header) = req.headers().get("authorization")? {
            return Ok(Some(header));
        }
        if http::is_websocket_upgrade(req)? {
            if let Some(token) = http::query_param(req, "access_token") {
                return Ok(Some(format!("Bearer {token}")));
            }
        }
        if !self.access_header {
            return Ok(None);
        }
        let Some(assertion) = req.headers().get("cf-access-jwt-assertion")? else {
            return Ok(None);
        };
        let url = req.inner().url();
        let own = http::origin_of(&url);
        match req.headers().get("origin")? {
            Some(origin) if origin != own => Err(ApiError::new(
                403,
                "CORS_ORIGIN_NOT_ALLOWED",
                "the Cloudflare Access token is accepted only from this worker's own pages or from servers",
            )),
            _ => Ok(Some(format!("Bearer {assertion}"))),
        }
    }
}

const MISSING_SECRET: &str =
    "CART_JWT_SECRET is missing: set it with `wrangler secret put CART_JWT_SECRET`, or set AUTH_JWKS_URL";

fn not_configured(why: &str) -> ApiError {
    ApiError::new(500, "AUTH_NOT_CONFIGURED", why.to_owned())
}

/// The identity provider the variables name (`var` reads one, empty when unset), or why they cannot be used.
fn provider(var: &dyn Fn(&str) -> String) -> Result<Option<Provider>, &'static str> {
    let Some(jwks_url) = jwks_url(var("AUTH_JWKS_URL").trim())? else {
        return Ok(None);
    };
    let list = |name: &str| -> Vec<String> {
        var(name)
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let (issuers, audiences, parties) = (
        list("AUTH_ISSUER"),
        list("AUTH_AUDIENCE"),
        list("AUTH_AUTHORIZED_PARTY"),
    );
    // A key set may sign other tenants' tokens (Firebase signs every project's): iss and aud say they are ours.
    if issuers.is_empty() {
        return Err("AUTH_JWKS_URL needs AUTH_ISSUER (the provider's iss)");
    }
    if audiences.is_empty() && parties.is_empty() {
        return Err("AUTH_JWKS_URL needs AUTH_AUDIENCE (the tokens' aud) or, for providers whose tokens carry none, AUTH_AUTHORIZED_PARTY (their azp)");
    }
    let user_claim = match var("AUTH_USER_CLAIM").trim() {
        "" => "sub".to_owned(),
        claim => claim.to_owned(),
    };
    let email_verified = match var("AUTH_REQUIRE_EMAIL_VERIFIED").trim() {
        "" | "true" => true,
        "false" => false,
        _ => return Err("AUTH_REQUIRE_EMAIL_VERIFIED must be true or false"),
    };
    Ok(Some(Provider {
        jwks_url,
        issuers,
        audiences,
        parties,
        user_claim,
        email_verified,
    }))
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
    let loopback = value.strip_prefix("http://").is_some_and(|rest| {
        host(rest)
            && ["127.0.0.1", "localhost", "[::1]"].iter().any(|h| {
                rest.strip_prefix(h)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
            })
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
        assert_eq!(bearer(Some("BEARER x.y.z")).ok(), Some("x.y.z"));
        assert_eq!(bearer(Some("bEaReR  x.y.z")).ok(), Some("x.y.z"));
        assert_eq!(bearer(Some("Bearer ")).unwrap_err().code, "MISSING_TOKEN");
        assert_eq!(
            bearer(Some("Bearerx.y.z")).unwrap_err().code,
            "MISSING_TOKEN"
        );
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
        assert!(super::jwks_url("http://127.0.0.1:1@evil.example/jwks").is_err());
        assert!(super::jwks_url("http://localhost:80@evil.example/").is_err());
    }
}

#[cfg(test)]
mod config_tests {
    use std::collections::HashMap;

    fn provider(vars: &[(&str, &str)]) -> Result<bool, &'static str> {
        let vars: HashMap<&str, &str> = vars.iter().copied().collect();
        super::provider(&|name: &str| vars.get(name).copied().unwrap_or("").to_owned())
            .map(|p| p.is_some())
    }

    const URL: (&str, &str) = ("AUTH_JWKS_URL", "https://idp.example/jwks");

    #[test]
    fn a_provider_needs_its_issuer_and_an_audience_or_authorized_party() {
        assert_eq!(provider(&[]), Ok(false));
        assert!(provider(&[URL]).is_err());
        assert!(provider(&[URL, ("AUTH_AUDIENCE", "shop")]).is_err());
        assert!(provider(&[URL, ("AUTH_ISSUER", "https://idp.example/")]).is_err());
        assert_eq!(
            provider(&[
                URL,
                ("AUTH_ISSUER", "https://idp.example/"),
                ("AUTH_AUDIENCE", "shop")
            ]),
            Ok(true)
        );
        assert_eq!(
            provider(&[
                URL,
                ("AUTH_ISSUER", "https://idp.example/"),
                ("AUTH_AUTHORIZED_PARTY", "https://shop.example")
            ]),
            Ok(true)
        );
        assert!(provider(&[
            URL,
            ("AUTH_ISSUER", "i"),
            ("AUTH_AUDIENCE", "a"),
            ("AUTH_REQUIRE_EMAIL_VERIFIED", "no")
        ])
        .is_err());
        assert!(provider(&[
            URL,
            ("AUTH_ISSUER", "i"),
            ("AUTH_AUDIENCE", "a"),
            ("AUTH_JWKS_URL", "http://idp.example/")
        ])
        .is_err());
    }
}
