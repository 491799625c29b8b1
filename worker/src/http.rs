//! HTTP plumbing the handlers share: methods, bodies read with a cap, the query, `Idempotency-Key`, and the
//! conditional-GET answer. No routing and no cart logic.

use worker::{Method, Request, Response};

use crate::error::{ApiError, ApiResult};
use crate::protocol;
use crate::view::MAX_JSON_BYTES;

/// `405 METHOD_NOT_ALLOWED` (with `Allow`) unless `method` is one of `allowed`.
pub fn only(method: &Method, allowed: &[Method]) -> ApiResult<()> {
    if allowed.contains(method) {
        Ok(())
    } else {
        let mut allow: Vec<String> = allowed.iter().map(|m| m.to_string()).collect();
        allow.push("OPTIONS".to_owned());
        let mut e = ApiError::new(
            405,
            "METHOD_NOT_ALLOWED",
            format!("{method} is not allowed here"),
        );
        e.allow = Some(allow.join(", "));
        Err(e)
    }
}

/// The body, at most `limit` bytes (`413 PAYLOAD_TOO_LARGE` beyond it, before reading more than the cap).
pub async fn read_body(req: &mut Request, limit: usize) -> ApiResult<Vec<u8>> {
    let too_large = || {
        ApiError::new(
            413,
            "PAYLOAD_TOO_LARGE",
            format!("bodies here are limited to {limit} bytes"),
        )
    };
    if let Some(len) = req.headers().get("content-length")? {
        if len.trim().parse::<usize>().map_or(true, |n| n > limit) {
            return Err(too_large());
        }
    }
    // Read in chunks and stop at the cap: a chunked body (no Content-Length) is never held whole beyond it.
    use futures_util::StreamExt;
    let mut bytes = Vec::new();
    let Ok(mut stream) = req.stream() else {
        return Ok(bytes); // no body
    };
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if bytes.len() + chunk.len() > limit {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The body of a request that must be JSON: `415` without `Content-Type: application/json`, `413` when too large.
/// [`crate::input`] parses it.
pub async fn read_json_bytes(req: &mut Request) -> ApiResult<Vec<u8>> {
    json_content_type(req)?;
    read_body(req, MAX_JSON_BYTES).await
}

/// The body of a request whose JSON body may be left out (checkout): an empty body (or only whitespace) needs no
/// `Content-Type`; any other is [`read_json_bytes`]'s.
pub async fn read_optional_json_bytes(req: &mut Request) -> ApiResult<Vec<u8>> {
    let body = read_body(req, MAX_JSON_BYTES).await?;
    if !body.iter().all(u8::is_ascii_whitespace) {
        json_content_type(req)?;
    }
    Ok(body)
}

/// `415 UNSUPPORTED_MEDIA_TYPE` unless the request says `Content-Type: application/json`.
fn json_content_type(req: &Request) -> ApiResult<()> {
    let content_type = req.headers().get("content-type")?.unwrap_or_default();
    if content_type
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("application/json")
    {
        Ok(())
    } else {
        Err(ApiError::new(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "send Content-Type: application/json",
        ))
    }
}

/// Headers for a cart object's command: its `Idempotency-Key`, if the request has one, with what the request was
/// (SHA-256 of method, path and body), for `object/idempotency.rs`. A key is 1-255 printable ASCII characters.
pub type Keyed = Vec<(&'static str, String)>;

/// The write's [`Keyed`] headers (empty without an `Idempotency-Key`).
pub fn idempotency(req: &Request, body: &[u8]) -> ApiResult<Keyed> {
    use sha2::{Digest, Sha256};
    let Some(key) = req.headers().get("idempotency-key")? else {
        return Ok(Vec::new());
    };
    let key = valid_idempotency_key(&key)?;
    let mut hash = Sha256::new();
    hash.update(req.method().to_string().as_bytes());
    hash.update(b" ");
    hash.update(req.path().as_bytes());
    hash.update(b"\n");
    hash.update(body);
    Ok(vec![
        (protocol::IDEMPOTENCY_KEY_HEADER, key),
        (protocol::FINGERPRINT_HEADER, hex(&hash.finalize())),
    ])
}

/// A trimmed `Idempotency-Key`: 1-255 printable ASCII characters, else `400 INVALID_IDEMPOTENCY_KEY`.
pub fn valid_idempotency_key(key: &str) -> ApiResult<String> {
    let key = key.trim();
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::new(
            400,
            "INVALID_IDEMPOTENCY_KEY",
            "Idempotency-Key is 1-255 printable ASCII characters",
        ));
    }
    Ok(key.to_owned())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A strong `ETag` for `body`: the first 128 bits of its SHA-256, in hex.
pub fn body_etag(body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    format!("\"{}\"", hex(&Sha256::digest(body)[..16]))
}

/// Whether an `If-None-Match` header value names `etag` (weak comparison, or `*`).
pub fn names_etag(if_none_match: &str, etag: &str) -> bool {
    if_none_match
        .split(',')
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

/// `304 Not Modified` with the `ETag` and no body.
pub fn not_modified(etag: &str) -> ApiResult<Response> {
    let mut unchanged = Response::empty()?.with_status(304);
    unchanged.headers_mut().set("etag", etag)?;
    unchanged
        .headers_mut()
        .set("cache-control", PRIVATE_REVALIDATE)?;
    Ok(unchanged)
}

/// Browsers may keep a cart but must revalidate it on every use (If-None-Match); shared caches never keep it.
pub const PRIVATE_REVALIDATE: &str = "private, no-cache";

// The runtime hands over URLs already serialised by the WHATWG URL parser (lower-case scheme and host, default port
// dropped), so the origin and query are plain slices of that text. Parsing them again with the `url` crate would
// link its IDNA tables into the bundle for nothing.

/// `scheme://host[:port]` of an absolute URL.
pub fn origin_of(url: &str) -> &str {
    let host = url.find("://").map_or(0, |i| i + 3);
    let end = url[host..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| host + i);
    &url[..end]
}

/// The query of a URL, without `?` and fragment.
fn query_of(url: &str) -> &str {
    let url = url.split_once('#').map_or(url, |(before, _)| before);
    url.split_once('?').map_or("", |(_, query)| query)
}

/// The first value of query parameter `name` in the request's URL, percent-decoded.
pub fn query_param(req: &Request, name: &str) -> Option<String> {
    let url = req.inner().url();
    form_urlencoded::parse(query_of(&url).as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Whether the request asks for a WebSocket upgrade.
pub fn is_websocket_upgrade(req: &Request) -> ApiResult<bool> {
    Ok(req
        .headers()
        .get("upgrade")?
        .is_some_and(|u| u.eq_ignore_ascii_case("websocket")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_is_scheme_host_and_port_of_the_request_url() {
        assert_eq!(
            origin_of("https://shop.example/v1/carts/x?a=1"),
            "https://shop.example"
        );
        assert_eq!(
            origin_of("http://127.0.0.1:8787/health"),
            "http://127.0.0.1:8787"
        );
        assert_eq!(origin_of("https://shop.example"), "https://shop.example");
        assert_eq!(
            origin_of("https://shop.example?x#y"),
            "https://shop.example"
        );
    }

    #[test]
    fn the_query_stops_at_the_fragment_and_its_token_is_percent_decoded() {
        assert_eq!(
            query_of("https://a.b/sync?access_token=x#frag"),
            "access_token=x"
        );
        assert_eq!(query_of("https://a.b/sync#frag?no"), "");
        assert_eq!(query_of("https://a.b/sync"), "");
        let token =
            form_urlencoded::parse(query_of("https://a.b/s?x=1&access_token=a%2Eb.c").as_bytes())
                .find(|(k, _)| k == "access_token")
                .map(|(_, v)| v.into_owned());
        assert_eq!(token.as_deref(), Some("a.b.c"));
    }

    #[test]
    fn if_none_match_names_an_etag_weakly_in_a_list_or_by_star() {
        assert!(names_etag("\"a\"", "\"a\""));
        assert!(names_etag("\"b\", W/\"a\"", "\"a\""));
        assert!(names_etag("*", "\"a\""));
        assert!(!names_etag("\"ab\"", "\"a\""));
        assert!(!names_etag("", "\"a\""));
    }
}
