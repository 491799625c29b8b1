//! The public JSON shape of a cart, and request size limits.

use std::borrow::Cow;

use cart_core::{CartView, Line};
use serde::{Deserialize, Serialize};

/// Largest JSON request body.
pub const MAX_JSON_BYTES: usize = 64 * 1024;
/// Largest sync message, over HTTP or in one WebSocket frame.
pub const MAX_SYNC_BYTES: usize = 1024 * 1024;

/// A cart's view as its object answers it, unpriced: `{"id", "lines", "lineCount", "itemCount", "version",
/// "mergedAt", "expiresAt"}`. The front worker reads it back as this type, adds prices and totals from the catalog
/// (`catalog::apply_prices`) and derives the `ETag` from the priced body (`routes::finish`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JsonView<'a> {
    pub id: Cow<'a, str>,
    pub lines: Cow<'a, [Line]>,
    pub line_count: usize,
    pub item_count: u64,
    pub version: String,
    /// When this guest cart was merged into a user's cart (ms since the epoch), or null.
    pub merged_at: Option<i64>,
    /// When the cart is deleted if it stays idle (ms since the epoch); null for a cart never written.
    pub expires_at: Option<i64>,
}

/// The JSON view of `view`, borrowing its lines.
pub fn json_view<'a>(
    id: &'a str,
    view: &'a CartView,
    merged_at: Option<i64>,
    expires_at: Option<i64>,
) -> JsonView<'a> {
    JsonView {
        id: Cow::Borrowed(id),
        lines: Cow::Borrowed(&view.lines),
        line_count: view.line_count,
        item_count: view.item_count,
        version: view.version_tag(),
        merged_at,
        expires_at,
    }
}
