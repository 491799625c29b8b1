//! The materialised cart: what a shopper sees, derived from the document.

use serde::{Deserialize, Serialize};

/// One line of the cart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Line {
    /// The product's stock-keeping unit.
    pub sku: String,
    /// Quantity, 1..=999.
    pub qty: u32,
    /// Whether the line is selected for checkout. New lines start selected.
    pub selected: bool,
    /// When the line was (last) created, in milliseconds since the Unix epoch, as the adding replica's clock saw it.
    pub added_at: i64,
}

/// A snapshot of the whole cart.
///
/// Two replicas holding the same set of changes produce equal views (and equal JSON), whatever order they received
/// the changes in: lines are ordered by `added_at`, then by `sku`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CartView {
    /// Lines in a stable order: oldest first, ties broken by sku.
    pub lines: Vec<Line>,
    /// Number of lines.
    pub line_count: usize,
    /// Sum of all quantities.
    pub item_count: u64,
    /// The document heads as lowercase hex change hashes, sorted: the version of this view.
    pub version: Vec<String>,
}

impl CartView {
    /// The line for `sku`, if the cart holds it.
    pub fn line(&self, sku: &str) -> Option<&Line> {
        self.lines.iter().find(|l| l.sku == sku)
    }

    /// The quantity of `sku`, 0 when absent.
    pub fn qty(&self, sku: &str) -> u32 {
        self.line(sku).map_or(0, |l| l.qty)
    }

    /// The version as one opaque string (heads joined by `.`), suitable for an HTTP `ETag`.
    pub fn version_tag(&self) -> String {
        self.version.join(".")
    }
}
