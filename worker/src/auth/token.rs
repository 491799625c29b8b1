//! A compact JWS as the worker reads it, before and after its signature is checked: the size limit, the three
//! parts, the header's algorithm and `crit`, and the claims (`exp`, `nbf`, `iat`, `iss`, `aud`, the user claim).
//! Pure: no keys, no clock, no runtime.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// Longest accepted token, in bytes; longer ones are refused before any decoding. Identity providers' ID tokens are
/// 1-2 KB; 8 KiB leaves room for custom claims.
pub const MAX_TOKEN_LEN: usize = 8192;
/// Seconds of clock skew tolerated on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECS: i64 = 30;
/// Longest accepted user id.
pub const MAX_USER_ID_LEN: usize = 128;

/// The signature algorithms the worker verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    /// HMAC SHA-256 with a shared secret (the shop mints its own tokens).
    Hs256,
    /// RSASSA-PKCS1-v1_5 SHA-256 with an identity provider's published key.
    Rs256,
    /// ECDSA P-256 SHA-256 with an identity provider's published key.
    Es256,
}

/// A token whose structure and header were accepted; its signature is not checked yet.
#[derive(Debug)]
pub struct Jws<'a> {
    pub alg: Alg,
    /// The key id, for choosing among a provider's published keys (not read for HS256).
    pub kid: Option<String>,
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'a str,
    pub signature: Vec<u8>,
    payload: &'a str,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<Value>,
}

/// A refused token: `401 INVALID_TOKEN` with a stable `reason`.
pub fn invalid(reason: &'static str, why: &str) -> ApiError {
    ApiError::new(401, "INVALID_TOKEN", format!("invalid bearer token: {why}")).reason(reason)
}

/// Checks a user id: 1-128 printable ASCII characters, no spaces.
pub fn valid_user_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_USER_ID_LEN && id.bytes().all(|b| b.is_ascii_graphic())
}

/// Reads a compact JWS: size, three base64url parts, a header naming an accepted algorithm and no `crit`. A header's
/// `jwk`, `jku`, `x5u` and `x5c` are never read: keys come from the worker's configuration only.
pub fn parse(token: &str) -> Result<Jws<'_>, ApiError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(invalid(
            "too_large",
            &format!("longer than {MAX_TOKEN_LEN} bytes"),
        ));
    }
    let mut parts = token.split('.');
    let (Some(h64), Some(p64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("malformed", "not three dot-separated parts"));
    };
    let header: Header =
        decode_json(h64).ok_or_else(|| invalid("malformed", "malformed header"))?;
    let alg = match header.alg.as_str() {
        "HS256" => Alg::Hs256,
        "RS256" => Alg::Rs256,
        "ES256" => Alg::Es256,
        a if a.eq_ignore_ascii_case("none") => {
            return Err(invalid(
                "alg_none",
                "unsigned tokens (alg none) are refused",
            ))
        }
        _ => {
            return Err(invalid(
                "alg_not_allowed",
                "only HS256, RS256 and ES256 are accepted",
            ))
        }
    };
    // RFC 7515 4.1.11: a token whose `crit` names an extension the verifier does not understand must be refused,
    // and this one understands none.
    if header.crit.is_some() {
        return Err(invalid(
            "unknown_crit",
            "the header's crit names extensions this server does not understand",
        ));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(s64)
        .map_err(|_| invalid("malformed", "malformed signature"))?;
    if signature.is_empty() {
        return Err(invalid("malformed", "no signature"));
    }
    Ok(Jws {
        alg,
        kid: header.kid,
        signing_input: &token[..h64.len() + 1 + p64.len()],
        signature,
        payload: p64,
    })
}

impl Jws<'_> {
    /// The claims; read only after the signature was checked.
    pub fn claims(&self) -> Result<Map<String, Value>, ApiError> {
        decode_json(self.payload).ok_or_else(|| invalid("malformed", "malformed claims"))
    }
}

/// What a verified token must also say, besides a good signature.
pub struct Rules<'a> {
    /// Accepted `iss` values; empty: not checked.
    pub issuers: &'a [String],
    /// Accepted `aud` values (the token's `aud` must hold one); empty: not checked.
    pub audiences: &'a [String],
    /// Accepted `azp` values (the authorized party: Clerk's origin); empty: not checked.
    pub parties: &'a [String],
    /// The claim that names the user (`sub` unless configured).
    pub user_claim: &'a str,
    /// Whether a user named by `email` needs `email_verified: true` beside it.
    pub email_verified: bool,
}

impl Rules<'static> {
    /// What a token signed with a shared secret must say: only `exp` and `sub`.
    pub const SHARED: Rules<'static> = Rules {
        issuers: &[],
        audiences: &[],
        parties: &[],
        user_claim: "sub",
        email_verified: false,
    };
}

/// The token's issuer (`iss`, empty without one) and user, once its claims pass `rules` at `now` (Unix seconds).
pub fn check(
    claims: &Map<String, Value>,
    rules: &Rules<'_>,
    now: i64,
) -> Result<(String, String), ApiError> {
    let number = |name: &str| claims.get(name).and_then(Value::as_f64).map(|v| v as i64);
    let exp = number("exp").ok_or_else(|| invalid("malformed", "the exp claim is required"))?;
    if now > exp.saturating_add(LEEWAY_SECS) {
        return Err(
            ApiError::new(401, "TOKEN_EXPIRED", "the bearer token has expired").reason("expired"),
        );
    }
    for name in ["nbf", "iat"] {
        if number(name).is_some_and(|t| now.saturating_add(LEEWAY_SECS) < t) {
            return Err(invalid(
                "not_yet_valid",
                &format!("not valid yet ({name} is in the future)"),
            ));
        }
    }
    let iss = claims.get("iss").and_then(Value::as_str).unwrap_or("");
    if !rules.issuers.is_empty() && !rules.issuers.iter().any(|i| i == iss) {
        return Err(invalid(
            "wrong_issuer",
            "the token's iss is not accepted here",
        ));
    }
    if !rules.audiences.is_empty() {
        let names = |a: &str| rules.audiences.iter().any(|want| want == a);
        let ok = match claims.get("aud") {
            Some(Value::String(a)) => names(a),
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(names),
            _ => false,
        };
        if !ok {
            return Err(invalid(
                "wrong_audience",
                "the token's aud is not accepted here",
            ));
        }
    }
    if !rules.parties.is_empty() {
        let azp = claims.get("azp").and_then(Value::as_str);
        if !azp.is_some_and(|azp| rules.parties.iter().any(|p| p == azp)) {
            return Err(invalid(
                "wrong_party",
                "the token's azp is not accepted here",
            ));
        }
    }
    if rules.email_verified
        && rules.user_claim == "email"
        && claims.get("email_verified") != Some(&Value::Bool(true))
    {
        return Err(invalid(
            "email_not_verified",
            "the token's e-mail address is not verified (email_verified is not true)",
        ));
    }
    let user = claims
        .get(rules.user_claim)
        .and_then(Value::as_str)
        .filter(|u| valid_user_id(u))
        .ok_or_else(|| {
            invalid(
                "bad_user_claim",
                &format!(
                    "the {} claim must be 1-{MAX_USER_ID_LEN} printable characters",
                    rules.user_claim
                ),
            )
        })?;
    Ok((iss.to_owned(), user.to_owned()))
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(json: &str) -> String {
        URL_SAFE_NO_PAD.encode(json)
    }

    fn token(header: &str) -> String {
        format!("{}.{}.c2ln", b64(header), b64(r#"{"sub":"u","exp":2000}"#))
    }

    fn reason(r: Result<impl std::fmt::Debug, ApiError>) -> &'static str {
        r.expect_err("refused").reason.unwrap_or("none")
    }

    fn rules<'a>(issuers: &'a [String], audiences: &'a [String]) -> Rules<'a> {
        Rules {
            issuers,
            audiences,
            ..Rules::SHARED
        }
    }

    fn claims(json: &str) -> Map<String, Value> {
        serde_json::from_str(json).expect("json")
    }

    #[test]
    fn the_three_accepted_algorithms_parse_with_their_kid() -> Result<(), ApiError> {
        let t = token(r#"{"alg":"RS256","kid":"k1"}"#);
        let jws = parse(&t)?;
        assert_eq!((jws.alg, jws.kid.as_deref()), (Alg::Rs256, Some("k1")));
        assert_eq!(parse(&token(r#"{"alg":"ES256"}"#))?.alg, Alg::Es256);
        assert_eq!(parse(&token(r#"{"alg":"HS256"}"#))?.alg, Alg::Hs256);
        Ok(())
    }

    #[test]
    fn alg_none_in_any_case_and_other_algorithms_are_refused_for_what_they_are() {
        for alg in ["none", "None", "NONE"] {
            assert_eq!(
                reason(parse(&token(&format!(r#"{{"alg":"{alg}"}}"#)))),
                "alg_none"
            );
        }
        for alg in ["HS512", "RS512", "PS256", "ES384", "EdDSA", ""] {
            assert_eq!(
                reason(parse(&token(&format!(r#"{{"alg":"{alg}"}}"#)))),
                "alg_not_allowed"
            );
        }
    }

    #[test]
    fn a_crit_header_is_refused_since_no_extension_is_understood() {
        assert_eq!(
            reason(parse(&token(r#"{"alg":"RS256","crit":["exp"],"exp":1}"#))),
            "unknown_crit"
        );
        assert_eq!(
            reason(parse(&token(
                r#"{"alg":"ES256","b64":false,"crit":["b64"]}"#
            ))),
            "unknown_crit"
        );
    }

    #[test]
    fn a_token_over_the_size_limit_is_refused_before_decoding() {
        let big = format!(
            "{}.{}.c2ln",
            b64(r#"{"alg":"RS256"}"#),
            "A".repeat(MAX_TOKEN_LEN)
        );
        assert_eq!(reason(parse(&big)), "too_large");
    }

    #[test]
    fn garbage_is_refused_as_malformed_without_panicking() {
        for t in [
            "",
            ".",
            "..",
            "a.b.c",
            "a.b.c.d",
            "%%%.%%%.%%%",
            "eyJhbGciOiJSUzI1NiJ9.e30.",
        ] {
            assert_eq!(reason(parse(t)), "malformed", "{t:?}");
        }
    }

    #[test]
    fn the_signing_input_is_header_dot_payload() -> Result<(), ApiError> {
        let t = token(r#"{"alg":"ES256"}"#);
        let jws = parse(&t)?;
        assert_eq!(format!("{}.c2ln", jws.signing_input), t);
        assert_eq!(jws.signature, b"sig");
        Ok(())
    }

    #[test]
    fn expiry_and_not_before_allow_the_documented_skew_and_no_more() {
        let c = claims(r#"{"sub":"u","exp":1000,"nbf":900,"iat":900}"#);
        let r = rules(&[], &[]);
        assert!(check(&c, &r, 1000 + LEEWAY_SECS).is_ok());
        let expired = check(&c, &r, 1000 + LEEWAY_SECS + 1).expect_err("expired");
        assert_eq!(
            (expired.code, expired.reason),
            ("TOKEN_EXPIRED", Some("expired"))
        );
        assert!(check(&c, &r, 900 - LEEWAY_SECS).is_ok());
        assert_eq!(
            reason(check(&c, &r, 900 - LEEWAY_SECS - 1)),
            "not_yet_valid"
        );
        assert_eq!(reason(check(&claims(r#"{"sub":"u"}"#), &r, 0)), "malformed");
    }

    #[test]
    fn issuer_and_audience_are_checked_only_when_configured() {
        let iss = vec!["https://idp.example/".to_owned()];
        let aud = vec!["shop".to_owned(), "shop-web".to_owned()];
        let good =
            claims(r#"{"sub":"u","exp":9,"iss":"https://idp.example/","aud":["x","shop-web"]}"#);
        assert_eq!(
            check(&good, &rules(&iss, &aud), 0).ok(),
            Some(("https://idp.example/".to_owned(), "u".to_owned()))
        );
        let other_iss = claims(r#"{"sub":"u","exp":9,"iss":"https://evil.example/","aud":"shop"}"#);
        assert_eq!(
            reason(check(&other_iss, &rules(&iss, &aud), 0)),
            "wrong_issuer"
        );
        assert!(check(&other_iss, &rules(&[], &aud), 0).is_ok());
        let other_aud =
            claims(r#"{"sub":"u","exp":9,"iss":"https://idp.example/","aud":"another-app"}"#);
        assert_eq!(
            reason(check(&other_aud, &rules(&iss, &aud), 0)),
            "wrong_audience"
        );
        let no_aud = claims(r#"{"sub":"u","exp":9,"iss":"https://idp.example/"}"#);
        assert_eq!(
            reason(check(&no_aud, &rules(&iss, &aud), 0)),
            "wrong_audience"
        );
    }

    #[test]
    fn the_configured_claim_names_the_user() {
        let c = claims(r#"{"sub":"auth0|123","email":"ann@example.com","exp":9}"#);
        let by_email = Rules {
            user_claim: "email",
            ..Rules::SHARED
        };
        assert_eq!(
            check(&c, &by_email, 0).map(|(_, u)| u).ok().as_deref(),
            Some("ann@example.com")
        );
        let missing = Rules {
            user_claim: "uid",
            ..Rules::SHARED
        };
        assert_eq!(reason(check(&c, &missing, 0)), "bad_user_claim");
        let spaced = claims(r#"{"sub":"has space","exp":9}"#);
        assert_eq!(
            reason(check(&spaced, &rules(&[], &[]), 0)),
            "bad_user_claim"
        );
    }

    #[test]
    fn an_e_mail_names_the_user_only_when_the_provider_says_it_is_verified() {
        let rules = Rules {
            user_claim: "email",
            email_verified: true,
            ..Rules::SHARED
        };
        let verified = claims(r#"{"email":"ann@example.com","email_verified":true,"exp":9}"#);
        assert_eq!(
            check(&verified, &rules, 0).map(|(_, u)| u).ok().as_deref(),
            Some("ann@example.com")
        );
        for unverified in [
            r#"{"email":"ann@example.com","email_verified":false,"exp":9}"#,
            r#"{"email":"ann@example.com","email_verified":"true","exp":9}"#,
            r#"{"email":"ann@example.com","exp":9}"#,
        ] {
            assert_eq!(
                reason(check(&claims(unverified), &rules, 0)),
                "email_not_verified"
            );
        }
        // Waived (Cloudflare Access signs only addresses it has checked, without the claim).
        let waived = Rules {
            email_verified: false,
            ..rules
        };
        assert!(check(
            &claims(r#"{"email":"ann@example.com","exp":9}"#),
            &waived,
            0
        )
        .is_ok());
    }

    #[test]
    fn the_authorized_party_is_checked_when_configured() {
        let parties = vec!["https://shop.example".to_owned()];
        let rules = Rules {
            parties: &parties,
            ..Rules::SHARED
        };
        let from_shop = claims(r#"{"sub":"u","exp":9,"azp":"https://shop.example"}"#);
        assert!(check(&from_shop, &rules, 0).is_ok());
        for other in [
            r#"{"sub":"u","exp":9,"azp":"https://evil.example"}"#,
            r#"{"sub":"u","exp":9}"#,
        ] {
            assert_eq!(reason(check(&claims(other), &rules, 0)), "wrong_party");
        }
    }
}
