//! HS256 tokens the shop mints itself, verified against one or more shared secrets (`CART_JWT_SECRET`, several
//! while one is rotated out), in constant time; and the dev token route's own key (dev builds).

#[cfg(any(test, feature = "dev"))]
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{Hmac, KeyInit, Mac};
#[cfg(any(test, feature = "dev"))]
use serde::Serialize;
use sha2::Sha256;

use super::token::Jws;
#[cfg(any(test, feature = "dev"))]
use crate::error::ApiError;

type HmacSha256 = Hmac<Sha256>;

#[cfg(any(test, feature = "dev"))]
#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    exp: i64,
    iat: i64,
}

/// Whether the token's signature is HMAC-SHA256 of its signing input under `secret` (compared in constant time).
pub fn signed_with(jws: &Jws<'_>, secret: &[u8]) -> bool {
    let Ok(mut mac) = HmacSha256::new_from_slice(secret) else {
        return false;
    };
    mac.update(jws.signing_input.as_bytes());
    mac.verify_slice(&jws.signature).is_ok()
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
        sub,
        exp: now + ttl_secs,
        iat: now,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::token::parse;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn a_signed_token_is_signed_with_its_key_and_no_other() -> Result<(), ApiError> {
        let token = sign("alice", KEY, 1_000, 60)?;
        let jws = parse(&token)?;
        assert!(signed_with(&jws, KEY));
        assert!(!signed_with(&jws, b"another-secret-another-secret-xx"));
        Ok(())
    }

    #[test]
    fn a_token_with_a_changed_payload_is_not_signed_with_the_key() -> Result<(), ApiError> {
        let token = sign("alice", KEY, 1_000, 60)?;
        let parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"sub":"bob","exp":99999999999}"#);
        let token = format!("{}.{}.{}", parts[0], forged, parts[2]);
        assert!(!signed_with(&parse(&token)?, KEY));
        Ok(())
    }

    #[test]
    fn a_dev_token_is_not_signed_with_the_real_key() -> Result<(), ApiError> {
        let key = dev_key(KEY)?;
        assert_ne!(key.as_slice(), KEY);
        let jws_token = sign("dev-user", &key, 1_000, 3_600)?;
        let jws = parse(&jws_token)?;
        assert!(!signed_with(&jws, KEY));
        assert!(signed_with(&jws, &key));
        Ok(())
    }
}
