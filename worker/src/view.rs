//! The public JSON shape of a cart, and request size limits.

use cart_core::{CartView, Line};
use serde::Serialize;
use serde_json::Value;

/// Largest JSON request body.
pub const MAX_JSON_BYTES: usize = 64 * 1024;
/// Largest sync message, over HTTP or in one WebSocket frame.
pub const MAX_SYNC_BYTES: usize = 1024 * 1024;

/// `{"id", "lines", "lineCount", "itemCount", "version", "mergedAt", "expiresAt"}`; the `ETag` is a hash of the priced body (`routes::finish`).
/// The worker adds prices and totals from the catalog (`catalog::price_view`).
pub fn json_view(
    id: &str,
    view: &CartView,
    merged_at: Option<i64>,
    expires_at: Option<i64>,
) -> Value {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Json<'a> {
        id: &'a str,
        lines: &'a [Line],
        line_count: usize,
        item_count: u64,
        version: String,
        /// When this guest cart was merged into a user's cart (ms since the epoch), or null.
        merged_at: Option<i64>,
        /// When the cart is deleted if it stays idle (ms since the epoch); null for a cart never written.
        expires_at: Option<i64>,
    }
    let json = Json {
        id,
        lines: &view.lines,
        line_count: view.line_count,
        item_count: view.item_count,
        version: view.version_tag(),
        merged_at,
        expires_at,
    };
    serde_json::to_value(json).unwrap_or(Value::Null)
}
