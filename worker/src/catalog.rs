//! The catalog: products, prices and availability in the `CATALOG` Workers KV namespace, joined into every cart
//! view at read time (from the isolate's reads of the last `CATALOG_CACHE_SECONDS`; checkout reads fresh).
//!
//! Layout (written by `scripts/seed-catalog.mjs` from a JSON file such as `catalog/demo.json`): one key per product,
//! `product:<sku>`, whose value (and metadata, so a listing needs no extra reads) is the product as JSON:
//! `{"sku", "name", "price" (minor units), "currency", "stock"?, "maxPerLine"?, "colour"?, "image"?}`.
//! A missing `stock` means unlimited; a missing `maxPerLine` means the cart's own limit (999).

use std::collections::HashMap;

use cart_core::Line;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use worker::Env;

use crate::error::{ApiError, ApiResult};
use crate::view::JsonView;

/// The KV binding holding the catalog.
pub const BINDING: &str = "CATALOG";
/// Key prefix of product entries.
pub const PREFIX: &str = "product:";
/// KV's limit of keys per bulk read.
const BULK: usize = 100;

/// One product as the catalog holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub sku: String,
    pub name: String,
    /// Unit price in minor units of `currency` (cents for EUR).
    pub price: u64,
    /// ISO 4217 code, e.g. "EUR".
    pub currency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colour: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// Why a line cannot be checked out as it is. Lines with an issue are kept in the cart and flagged, never dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Issue {
    /// The sku is not in the catalog (or its entry is unreadable).
    UnknownSku,
    /// The product has no stock.
    OutOfStock,
    /// The line wants more than the stock.
    InsufficientStock,
    /// The line is above the product's per-line maximum.
    AboveMaxPerLine,
}

impl Issue {
    pub fn code(self) -> &'static str {
        match self {
            Issue::UnknownSku => "UNKNOWN_SKU",
            Issue::OutOfStock => "OUT_OF_STOCK",
            Issue::InsufficientStock => "INSUFFICIENT_STOCK",
            Issue::AboveMaxPerLine => "ABOVE_MAX_PER_LINE",
        }
    }
}

/// The issue of a line of `qty` of `product`, if any.
pub fn issue(product: Option<&Product>, qty: u64) -> Option<Issue> {
    let Some(p) = product else {
        return Some(Issue::UnknownSku);
    };
    match (p.stock, p.max_per_line) {
        (Some(0), _) => Some(Issue::OutOfStock),
        (_, Some(max)) if qty > u64::from(max) => Some(Issue::AboveMaxPerLine),
        (Some(stock), _) if qty > u64::from(stock) => Some(Issue::InsufficientStock),
        _ => None,
    }
}

/// Reads the products of `skus` (unknown or unreadable ones are absent from the map).
pub async fn products(env: &Env, skus: &[String]) -> ApiResult<HashMap<String, Product>> {
    let kv = env.kv(BINDING)?;
    let mut found = HashMap::new();
    // A cart above KV's bulk limit needs several reads: they go out together, so pricing costs one round trip.
    let reads = skus.chunks(BULK).map(|chunk| {
        let keys: Vec<String> = chunk.iter().map(|s| format!("{PREFIX}{s}")).collect();
        let kv = &kv;
        async move { kv.get_bulk(&keys).text().await }
    });
    for values in futures_util::future::join_all(reads).await {
        let values = values.map_err(|e| ApiError::internal("catalog read", e))?;
        for (key, value) in values {
            let Some(sku) = key.strip_prefix(PREFIX) else {
                continue;
            };
            match value.as_deref().map(serde_json::from_str::<Product>) {
                Some(Ok(product)) if product.sku == sku => {
                    found.insert(sku.to_owned(), product);
                }
                Some(Ok(_)) | Some(Err(_)) => {
                    worker::console_warn!(
                        "catalog entry {key} is unreadable; its lines show as unknown"
                    );
                }
                None => {}
            }
        }
    }
    Ok(found)
}

/// How long an isolate reuses the catalog listing. Workers KV itself may answer a read up to 60 s stale, so the
/// listing is never fresher than this anyway; cart views are priced by entry (`products_cached`), not from it.
pub const LIST_CACHE_MS: i64 = 30_000;

thread_local! {
    /// The last listing and when it was read (per isolate).
    static LISTING: std::cell::RefCell<Option<(i64, std::rc::Rc<Vec<Product>>)>> =
        const { std::cell::RefCell::new(None) };
}

/// Every product, in sku order, reused for [`LIST_CACHE_MS`] within an isolate.
pub async fn list(env: &Env) -> ApiResult<std::rc::Rc<Vec<Product>>> {
    let now = crate::object::now_ms();
    // The borrow ends before any await.
    let cached = LISTING.with(|l| l.borrow().clone());
    if let Some((at, products)) = cached {
        if now - at < LIST_CACHE_MS {
            return Ok(products);
        }
    }
    let products = std::rc::Rc::new(list_from_kv(env).await?);
    LISTING.with(|l| *l.borrow_mut() = Some((now, products.clone())));
    Ok(products)
}

/// Every product, in sku order (from the listing's metadata: one KV call per 1,000 products).
async fn list_from_kv(env: &Env) -> ApiResult<Vec<Product>> {
    let kv = env.kv(BINDING)?;
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = kv.list().prefix(PREFIX.to_owned());
        if let Some(c) = cursor.take() {
            request = request.cursor(c);
        }
        let page = request
            .execute()
            .await
            .map_err(|e| ApiError::internal("catalog list", e))?;
        out.extend(
            page.keys
                .into_iter()
                .filter_map(|k| serde_json::from_value::<Product>(k.metadata?).ok()),
        );
        match page.cursor {
            Some(c) if !page.list_complete && !c.is_empty() => cursor = Some(c),
            _ => break,
        }
    }
    out.sort_by(|a, b| a.sku.cmp(&b.sku));
    Ok(out)
}

/// How long an isolate reuses a catalog entry it read for pricing views, by default (`CATALOG_CACHE_SECONDS`;
/// 0 = every view reads KV). KV itself may answer a read up to 60 s stale, so a few seconds here change little of
/// what "current" means; checkout always reads fresh ([`Freshness::Fresh`]).
pub const DEFAULT_CACHE_SECONDS: i64 = 5;
/// Most entries an isolate keeps (then the cache starts over).
const MAX_CACHED: usize = 10_000;

/// Whether pricing may use the isolate's recent reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Entries read within this many ms (0: none).
    Cached(i64),
    /// Read from KV now.
    Fresh,
}

impl Freshness {
    /// The freshness of view pricing under `CATALOG_CACHE_SECONDS`.
    pub fn of_views(env: &Env) -> Freshness {
        let seconds = env
            .var("CATALOG_CACHE_SECONDS")
            .ok()
            .and_then(|v| v.to_string().trim().parse::<i64>().ok())
            .unwrap_or(DEFAULT_CACHE_SECONDS)
            .clamp(0, 300);
        Freshness::Cached(seconds * 1000)
    }
}

thread_local! {
    /// Catalog entries read for pricing, by sku, with when (`None`: no such product, which is cached too).
    static ENTRIES: std::cell::RefCell<HashMap<String, (i64, Option<Product>)>> =
        std::cell::RefCell::new(HashMap::new());
}

/// The products of `skus`, from the isolate's reads younger than `freshness` allows and KV for the rest.
pub async fn products_cached(
    env: &Env,
    skus: &[String],
    freshness: Freshness,
) -> ApiResult<HashMap<String, Product>> {
    let now = crate::object::now_ms();
    let max_age = match freshness {
        Freshness::Cached(ms) if ms > 0 => ms,
        Freshness::Cached(_) => return products(env, skus).await,
        // What a fresh read found is what later views should show too (a checkout refused for a changed price
        // must not be followed by views of the old one).
        Freshness::Fresh => {
            let read = products(env, skus).await?;
            remember(skus, &read, now);
            return Ok(read);
        }
    };
    let mut found = HashMap::new();
    let mut missing = Vec::new();
    // The borrow ends before any await.
    ENTRIES.with(|cache| {
        let cache = cache.borrow();
        for sku in skus {
            match cache.get(sku) {
                Some((at, entry)) if now - at < max_age => {
                    if let Some(product) = entry {
                        found.insert(sku.clone(), product.clone());
                    }
                }
                _ => missing.push(sku.clone()),
            }
        }
    });
    if missing.is_empty() {
        return Ok(found);
    }
    let read = products(env, &missing).await?;
    remember(&missing, &read, now);
    found.extend(read);
    Ok(found)
}

/// Keeps what a read of `skus` found (absences too), read at `now`.
fn remember(skus: &[String], read: &HashMap<String, Product>, now: i64) {
    ENTRIES.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.len() + skus.len() > MAX_CACHED {
            cache.clear();
        }
        for sku in skus {
            cache.insert(sku.clone(), (now, read.get(sku).cloned()));
        }
    });
}

/// One line of a priced view: the cart's line, then what the catalog says of it (nulls for an unknown sku).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PricedLine<'a> {
    #[serde(flatten)]
    pub line: &'a Line,
    pub name: Option<&'a str>,
    pub unit_price: Option<u64>,
    pub currency: Option<&'a str>,
    pub line_total: Option<u64>,
    pub available: bool,
    pub issue: Option<&'static str>,
}

/// What the selected, available lines come to.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Totals<'a> {
    pub currency: Option<&'a str>,
    pub subtotal: u64,
    pub selected_lines: u64,
    pub selected_items: u64,
}

/// A cart view as the API answers it: every field of the object's [`JsonView`], its lines priced, and the totals.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PricedView<'a> {
    pub id: &'a str,
    pub lines: Vec<PricedLine<'a>>,
    pub line_count: usize,
    pub item_count: u64,
    pub version: &'a str,
    pub merged_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub totals: Totals<'a>,
}

/// The catalog entries `view`'s lines need, from the isolate's reads as fresh as `freshness` allows and KV.
pub async fn products_for(
    env: &Env,
    view: &JsonView<'_>,
    freshness: Freshness,
) -> ApiResult<HashMap<String, Product>> {
    if view.lines.is_empty() {
        return Ok(HashMap::new());
    }
    let skus: Vec<String> = view.lines.iter().map(|l| l.sku.clone()).collect();
    products_cached(env, &skus, freshness).await
}

/// An object's JSON view (`bytes`) priced from catalog entries as fresh as `CATALOG_CACHE_SECONDS` asks, as the
/// JSON text the API answers: read and written as types, no `serde_json::Value` in between.
pub async fn price_json(env: &Env, bytes: &[u8]) -> ApiResult<Vec<u8>> {
    let view: JsonView =
        serde_json::from_slice(bytes).map_err(|e| ApiError::internal("cart view", e))?;
    let catalog = products_for(env, &view, Freshness::of_views(env)).await?;
    serde_json::to_vec(&apply_prices(&view, &catalog))
        .map_err(|e| ApiError::internal("priced view", e))
}

/// [`price_json`] for a view held as a JSON value (under `cart` in merge and share answers; checkout), with the
/// given freshness.
pub async fn price_value(env: &Env, view: Value, freshness: Freshness) -> ApiResult<Value> {
    let view: JsonView =
        serde_json::from_value(view).map_err(|e| ApiError::internal("cart view", e))?;
    let catalog = products_for(env, &view, freshness).await?;
    serde_json::to_value(apply_prices(&view, &catalog))
        .map_err(|e| ApiError::internal("priced view", e))
}

/// The pure part of pricing: joins `view`'s lines with `catalog`. A line's total counts when it is selected and
/// has no [`Issue`]; flagged lines are kept, never dropped.
pub fn apply_prices<'a>(
    view: &'a JsonView<'_>,
    catalog: &'a HashMap<String, Product>,
) -> PricedView<'a> {
    let mut totals = Totals {
        currency: None,
        subtotal: 0,
        selected_lines: 0,
        selected_items: 0,
    };
    let lines = view
        .lines
        .iter()
        .map(|line| {
            let qty = u64::from(line.qty);
            let product = catalog.get(&line.sku);
            let issue = issue(product, qty);
            let line_total = product.map(|p| p.price.saturating_mul(qty));
            if let (Some(p), Some(total), true, None) = (product, line_total, line.selected, issue)
            {
                totals.subtotal = totals.subtotal.saturating_add(total);
                totals.selected_lines += 1;
                totals.selected_items += qty;
                totals.currency.get_or_insert(&p.currency);
            }
            PricedLine {
                line,
                name: product.map(|p| p.name.as_str()),
                unit_price: product.map(|p| p.price),
                currency: product.map(|p| p.currency.as_str()),
                line_total,
                available: issue.is_none(),
                issue: issue.map(Issue::code),
            }
        })
        .collect();
    PricedView {
        id: &view.id,
        lines,
        line_count: view.line_count,
        item_count: view.item_count,
        version: &view.version,
        merged_at: view.merged_at,
        expires_at: view.expires_at,
        totals,
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use serde_json::json;

    use super::*;

    fn product(sku: &str, price: u64, stock: Option<u32>, max: Option<u32>) -> Product {
        Product {
            sku: sku.into(),
            name: format!("{sku} name"),
            price,
            currency: "EUR".into(),
            stock,
            max_per_line: max,
            colour: None,
            image: None,
        }
    }

    fn view(lines: Vec<Line>) -> JsonView<'static> {
        JsonView {
            id: Cow::Borrowed("c1"),
            line_count: lines.len(),
            item_count: lines.iter().map(|l| u64::from(l.qty)).sum(),
            lines: Cow::Owned(lines),
            version: "v1".into(),
            merged_at: Some(7),
            expires_at: Some(9),
        }
    }

    fn line(sku: &str, qty: u32, selected: bool) -> Line {
        Line {
            sku: sku.into(),
            qty,
            selected,
            added_at: 1,
        }
    }

    fn priced(view: &JsonView, catalog: &HashMap<String, Product>) -> Value {
        serde_json::to_value(apply_prices(view, catalog)).expect("priced json")
    }

    #[test]
    fn totals_cover_selected_available_lines_only_and_flagged_lines_are_kept() {
        let catalog: HashMap<_, _> = [
            product("TEA", 1290, None, None),
            product("MUG", 1800, Some(10), None),
            product("GONE", 500, Some(0), None),
            product("RARE", 900, Some(2), None),
            product("CAPPED", 100, None, Some(3)),
        ]
        .into_iter()
        .map(|p| (p.sku.clone(), p))
        .collect();
        let cart = view(vec![
            line("TEA", 2, true),
            line("MUG", 1, false),
            line("GONE", 1, true),
            line("RARE", 3, true),
            line("CAPPED", 4, true),
            line("NOPE", 1, true),
        ]);
        let view = priced(&cart, &catalog);
        let lines = view["lines"].as_array().expect("lines");
        assert_eq!(lines.len(), 6, "no line is dropped");
        let issues: Vec<_> = lines.iter().map(|l| l["issue"].clone()).collect();
        assert_eq!(
            issues,
            [
                Value::Null,
                Value::Null,
                "OUT_OF_STOCK".into(),
                "INSUFFICIENT_STOCK".into(),
                "ABOVE_MAX_PER_LINE".into(),
                "UNKNOWN_SKU".into()
            ]
        );
        assert_eq!(lines[0]["lineTotal"], 2580);
        assert_eq!(lines[0]["name"], "TEA name");
        assert_eq!(lines[0]["available"], true);
        assert_eq!(
            lines[1]["lineTotal"], 1800,
            "an unselected line still shows its total"
        );
        assert_eq!(lines[5]["available"], false);
        assert_eq!(lines[5]["unitPrice"], Value::Null);
        assert_eq!(lines[5]["name"], Value::Null);
        assert_eq!(
            view["totals"],
            json!({"currency": "EUR", "subtotal": 2580, "selectedLines": 1, "selectedItems": 2})
        );
    }

    #[test]
    fn an_empty_cart_totals_zero_without_a_currency() {
        let view = priced(&view(vec![]), &HashMap::new());
        assert_eq!(
            view["totals"],
            json!({"currency": null, "subtotal": 0, "selectedLines": 0, "selectedItems": 0})
        );
    }

    #[test]
    fn a_priced_view_keeps_every_field_of_the_object_s_view_and_of_each_line_unchanged() {
        let catalog: HashMap<_, _> = [("TEA".to_owned(), product("TEA", 1290, None, None))].into();
        let cart = view(vec![line("TEA", 2, true), line("NOPE", 1, false)]);
        let unpriced = serde_json::to_value(&cart).expect("view json");
        let priced = priced(&cart, &catalog);
        let (Value::Object(unpriced), Value::Object(priced)) = (unpriced, priced) else {
            panic!("both are objects");
        };
        for (key, value) in &unpriced {
            if key == "lines" {
                continue;
            }
            assert_eq!(
                priced.get(key),
                Some(value),
                "the priced view keeps `{key}`"
            );
        }
        let keys: Vec<&str> = priced.keys().map(String::as_str).collect();
        let mut expected: Vec<&str> = unpriced.keys().map(String::as_str).collect();
        expected.push("totals");
        expected.sort_unstable();
        assert_eq!(keys, expected, "and adds only the totals");
        for (i, line) in unpriced["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .enumerate()
        {
            for (key, value) in line.as_object().expect("line") {
                assert_eq!(&priced["lines"][i][key], value, "line {i} keeps `{key}`");
            }
        }
    }

    #[test]
    fn the_object_s_view_text_reads_back_as_the_view_it_was_written_from() {
        let cart = view(vec![line("TEA", 2, true), line("MUG", 999, false)]);
        let text = serde_json::to_vec(&cart).expect("view json");
        let read: JsonView = serde_json::from_slice(&text).expect("reads back");
        assert_eq!(read, cart);
    }
}
