//! Observability: one structured JSON log line per request, which `wrangler tail` and Workers Logs index.

use worker::Method;

/// The route template of `path`: ids, skus and tokens replaced by their names, so logs group by route.
pub fn route_label(path: &str) -> String {
    let mut out = Vec::new();
    let mut previous = "";
    for segment in path.trim_start_matches('/').split('/') {
        let label = match previous {
            "carts" => "{cartId}",
            "lines" => "{sku}",
            "shared" => "{token}",
            "checkouts" => "{checkoutId}",
            _ => segment,
        };
        out.push(label);
        previous = segment;
    }
    format!("/{}", out.join("/"))
}

/// The cart a path names, for correlating log lines: a guest cart id is a bearer secret, so only its first six
/// characters are logged; a user's cart is logged as `user`.
pub fn cart_label(path: &str) -> Option<String> {
    let mut segments = path.trim_start_matches('/').split('/');
    match (segments.next(), segments.next(), segments.next()) {
        (Some("v1"), Some("carts"), Some(id)) => {
            Some(format!("{}…", id.chars().take(6).collect::<String>()))
        }
        (Some("v1"), Some("me"), _) => Some("user".into()),
        _ => None,
    }
}

pub fn log_request(method: &Method, path: &str, status: u16, duration_ms: i64, code: Option<&str>) {
    let line = serde_json::json!({
        "msg": "request",
        "ts": crate::object::now_ms(),
        "method": method.to_string(),
        "route": route_label(path),
        "cart": cart_label(path),
        "status": status,
        "durationMs": duration_ms,
        "code": code,
    });
    worker::console_log!("{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_logged_as_templates_without_secrets() {
        let path = "/v1/carts/AbCdEfGhIjKlMnOpQrStUv/lines/TEA-1";
        assert_eq!(route_label(path), "/v1/carts/{cartId}/lines/{sku}");
        assert_eq!(cart_label(path).as_deref(), Some("AbCdEf…"));
        assert_eq!(route_label("/v1/shared/xyz"), "/v1/shared/{token}");
        assert_eq!(cart_label("/v1/me/cart").as_deref(), Some("user"));
        assert_eq!(cart_label("/health"), None);
    }
}
