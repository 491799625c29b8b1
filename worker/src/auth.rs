//! Bearer tokens: HS256 JWTs whose `sub` is the user id. Verification checks the algorithm (HS256 only, so never
//! `none`), the signature in constant time, and `exp`/`nbf`.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::ApiError;

type HmacSha256 = Hmac<Sha256>;

/// Seconds of clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: i64 = 30;
/// Longest accepted token, in bytes; longer headers are refused before any decoding.
const MAX_TOKEN_LEN: usize = 4096;
/// Longest accepted user id.
pub const MAX_USER_ID_LEN: usize = 128;

#[derive(Debug, Deserialize)]
struct Header {
    alg: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
}

fn invalid(why: &str) -> ApiError {
    ApiError::new(401, "INVALID_TOKEN", format!("invalid bearer token: {why}"))
}

/// Checks a user id: 1-128 printable ASCII characters, no spaces.
pub fn valid_user_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_USER_ID_LEN && id.bytes().all(|b| b.is_ascii_graphic())
}

/// The user id in the `Authorization: Bearer <jwt>` header value, if the token is valid at `now` (Unix seconds).
pub fn user_from_header(
    header: Option<String>,
    secret: &[u8],
    now: i64,
) -> Result<String, ApiError> {
    let header = header.ok_or_else(|| {
        ApiError::new(
            401,
            "MISSING_TOKEN",
            "an Authorization: Bearer token is required",
        )
    })?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .ok_or_else(|| {
            ApiError::new(
                401,
                "MISSING_TOKEN",
                "the Authorization header must be 'Bearer <token>'",
            )
        })?;
    verify(token.trim(), secret, now)
}

/// Verifies an HS256 JWT and returns its `sub`.
pub fn verify(token: &str, secret: &[u8], now: i64) -> Result<String, ApiError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(invalid("too long"));
    }
    let mut parts = token.split('.');
    let (Some(h64), Some(p64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("not three dot-separated parts"));
    };
    let header: Header = decode_json(h64).ok_or_else(|| invalid("malformed header"))?;
    if header.alg != "HS256" {
        return Err(invalid("only HS256 is accepted"));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(s64)
        .map_err(|_| invalid("malformed signature"))?;
    let mut mac = HmacSha256::new_from_slice(secret).map_err(|_| invalid("server key unusable"))?;
    mac.update(h64.as_bytes());
    mac.update(b".");
    mac.update(p64.as_bytes());
    mac.verify_slice(&signature)
        .map_err(|_| invalid("bad signature"))?;
    // Only a token we signed gets its claims read.
    let claims: Claims =
        decode_json(p64).ok_or_else(|| invalid("malformed claims (sub and exp are required)"))?;
    if now > claims.exp + LEEWAY_SECS {
        return Err(ApiError::new(
            401,
            "TOKEN_EXPIRED",
            "the bearer token has expired",
        ));
    }
    if claims.nbf.is_some_and(|nbf| now + LEEWAY_SECS < nbf) {
        return Err(invalid("not valid yet"));
    }
    if !valid_user_id(&claims.sub) {
        return Err(invalid("sub must be 1-128 printable characters"));
    }
    Ok(claims.sub)
}

/// The key the dev token route signs with (dev builds only): derived from the deployment's secret, so a dev token
/// is never valid under the real key, and a production build, which has no code that accepts this key, refuses
/// every dev token.
#[cfg(any(test, feature = "dev"))]
pub fn dev_key(secret: &[u8]) -> Result<Vec<u8>, ApiError> {
    let mut mac =
        HmacSha256::new_from_slice(secret).map_err(|e| ApiError::internal("dev key", e))?;
    mac.update(b"edge-cart dev tokens");
    Ok(mac.finalize().into_bytes().to_vec())
}

/// Signs an HS256 JWT for `sub`, valid from `now` for `ttl_secs`.
#[cfg(any(test, feature = "dev"))]
pub fn sign(sub: &str, secret: &[u8], now: i64, ttl_secs: i64) -> Result<String, ApiError> {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = Claims {
        sub: sub.to_owned(),
        exp: now + ttl_secs,
        nbf: None,
        iat: Some(now),
    };
    let payload = serde_json::to_vec(&claims).map_err(|e| ApiError::internal("sign", e))?;
    let payload = URL_SAFE_NO_PAD.encode(payload);
    let mut mac = HmacSha256::new_from_slice(secret).map_err(|e| ApiError::internal("sign", e))?;
    mac.update(header.as_bytes());
    mac.update(b".");
    mac.update(payload.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    Ok(format!("{header}.{payload}.{signature}"))
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_dev_token_is_not_valid_under_the_real_key() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let key = super::dev_key(secret).expect("a key");
        assert_ne!(key.as_slice(), secret.as_slice());
        let token = super::sign("dev-user", &key, 1_000, 3_600).expect("signs");
        assert!(super::verify(&token, secret, 1_000).is_err());
        assert_eq!(
            super::verify(&token, &key, 1_000).expect("valid").as_str(),
            "dev-user"
        );
    }

    use super::*;

    const KEY: &[u8] = b"test-secret";

    #[test]
    fn a_signed_token_verifies_to_its_user() -> Result<(), ApiError> {
        let token = sign("alice", KEY, 1_000, 60)?;
        assert_eq!(verify(&token, KEY, 1_010)?, "alice");
        Ok(())
    }

    #[test]
    fn an_expired_token_is_refused_with_its_own_code() -> Result<(), ApiError> {
        let token = sign("alice", KEY, 1_000, 60)?;
        assert_eq!(
            verify(&token, KEY, 1_000 + 60 + LEEWAY_SECS + 1)
                .unwrap_err()
                .code,
            "TOKEN_EXPIRED"
        );
        Ok(())
    }

    #[test]
    fn a_token_signed_with_another_key_is_refused() -> Result<(), ApiError> {
        let token = sign("alice", b"other", 1_000, 60)?;
        assert_eq!(
            verify(&token, KEY, 1_000).unwrap_err().code,
            "INVALID_TOKEN"
        );
        Ok(())
    }

    #[test]
    fn a_token_with_a_changed_subject_is_refused() -> Result<(), ApiError> {
        let token = sign("alice", KEY, 1_000, 60)?;
        let parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"sub":"bob","exp":99999999999}"#);
        let token = format!("{}.{}.{}", parts[0], forged, parts[2]);
        assert_eq!(
            verify(&token, KEY, 1_000).unwrap_err().code,
            "INVALID_TOKEN"
        );
        Ok(())
    }

    #[test]
    fn alg_none_is_refused() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"bob","exp":99999999999}"#);
        for token in [
            format!("{header}.{payload}."),
            format!("{header}.{payload}"),
        ] {
            assert_eq!(
                verify(&token, KEY, 1_000).unwrap_err().code,
                "INVALID_TOKEN"
            );
        }
    }

    #[test]
    fn garbage_tokens_are_refused_without_panicking() {
        for token in [
            "",
            ".",
            "..",
            "a.b.c",
            "a.b.c.d",
            "%%%.%%%.%%%",
            &"x".repeat(5000),
        ] {
            assert_eq!(
                verify(token, KEY, 1_000).unwrap_err().code,
                "INVALID_TOKEN",
                "{token:?}"
            );
        }
    }

    #[test]
    fn the_authorization_header_must_be_a_bearer_token() -> Result<(), ApiError> {
        assert_eq!(
            user_from_header(None, KEY, 0).unwrap_err().code,
            "MISSING_TOKEN"
        );
        assert_eq!(
            user_from_header(Some("Basic abc".into()), KEY, 0)
                .unwrap_err()
                .code,
            "MISSING_TOKEN"
        );
        let token = sign("carol", KEY, 0, 60)?;
        assert_eq!(
            user_from_header(Some(format!("Bearer {token}")), KEY, 0)?,
            "carol"
        );
        Ok(())
    }
}
