// The catalog as the storefront sees it: the worker's GET /v1/catalog (products in Workers KV), kept in
// LocalStorage so the page still shows products offline. Lines whose sku is not in the catalog still show, flagged.

const CACHE_KEY = 'steep:catalog';

/** The products from the worker (kept for the next visit), or null when it cannot be reached. */
export async function fetchCatalog() {
  try {
    const res = await fetch('/v1/catalog');
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const { products } = await res.json();
    try {
      localStorage.setItem(CACHE_KEY, JSON.stringify(products));
    } catch {}
    return products;
  } catch {
    return null;
  }
}

/** The last copy of the products this browser saw, or null when it has none. */
export function cachedCatalog() {
  try {
    const products = JSON.parse(localStorage.getItem(CACHE_KEY) ?? 'null');
    return Array.isArray(products) ? products : null;
  } catch {
    return null;
  }
}

/**
 * Why a line of `qty` of `product` cannot be bought as it is, with the same codes and rules as the worker's views
 * (worker/src/catalog.rs): UNKNOWN_SKU, OUT_OF_STOCK, ABOVE_MAX_PER_LINE, INSUFFICIENT_STOCK; null when it can.
 */
export function issueOf(product, qty) {
  if (!product) return 'UNKNOWN_SKU';
  if (product.stock === 0) return 'OUT_OF_STOCK';
  if (product.maxPerLine !== undefined && qty > product.maxPerLine) return 'ABOVE_MAX_PER_LINE';
  if (product.stock !== undefined && qty > product.stock) return 'INSUFFICIENT_STOCK';
  return null;
}

export const ISSUE_TEXT = {
  UNKNOWN_SKU: () => 'No longer sold: kept here, not in the total',
  OUT_OF_STOCK: () => 'Sold out: kept here, not in the total',
  ABOVE_MAX_PER_LINE: (p) => `At most ${p.maxPerLine} per order: lower the quantity`,
  INSUFFICIENT_STOCK: (p) => `Only ${p.stock} in stock: lower the quantity`,
};

const money = new Intl.NumberFormat('en', { style: 'currency', currency: 'EUR' });

/** `cents` as a price, e.g. "€12.90". */
export const formatPrice = (cents) => money.format(cents / 100);
