//! The TypeScript declarations wasm-bindgen cannot derive: the options, the view, the event map, the server's
//! priced cart and checkout, the operations of `batch()` and the errors. Emitted into `cart_client.d.ts`;
//! `tests/types/usage.ts` is checked against them with `tsc --strict`.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = r#"
export interface CartClientOptions {
  /** LocalStorage key prefix (default "edge-cart"); use different prefixes for independent carts on one origin. */
  storageKey?: string;
  /** "websocket" (default where available), "http" (one-shot sync exchanges, polling), or "none" (local only). */
  transport?: "websocket" | "http" | "none";
  /** Start syncing at once (default true). */
  autoConnect?: boolean;
}
export interface CartLine { readonly sku: string; readonly qty: number; readonly selected: boolean; readonly addedAt: number; }
/** A frozen snapshot: `view()` returns the same object until something it shows changes. */
export interface CartView {
  /** The guest cart id, or undefined when signed in. */
  readonly cartId?: string;
  /** The signed-in user's id (the token's `sub`), or undefined for a guest. */
  readonly userId?: string;
  readonly lines: readonly CartLine[];
  readonly lineCount: number;
  readonly itemCount: number;
  readonly version: string;
  readonly status: "online" | "syncing" | "connecting" | "offline";
  /** Local changes the server has not acknowledged yet. */
  readonly pending: number;
  /** False when LocalStorage refused the last write (quota); the cart keeps working in memory. */
  readonly persisted: boolean;
  /** Whether `undo()` has a removal or clear to undo. */
  readonly canUndo: boolean;
  /** The cart is of a newer layout than this library knows: it is shown read-only, edits throw UPGRADE_REQUIRED
   *  and nothing syncs until the page loads a newer library (pending edits stay in LocalStorage). */
  readonly upgradeRequired: boolean;
}
export interface MergeReport {
  alreadyMerged: boolean;
  added: string[];
  combined: string[];
  unchanged: string[];
  skippedCartFull: string[];
  clamped: string[];
}
/** One operation of `batch()`, as the server's `POST .../ops` takes it. */
export type CartOp =
  | { op: "add"; sku: string; qty?: number }
  | { op: "set"; sku: string; qty: number }
  | { op: "remove"; sku: string }
  | { op: "select"; sku: string; selected: boolean }
  | { op: "selectAll"; selected: boolean }
  | { op: "clear" };
/** What each event's `detail` is: the view for `change` and `status`, a `CartError` for `error`. */
export interface CartEventMap { change: CartView; status: CartView; error: CartError; }
/** A listener for `addEventListener`: `event.detail` is a `CartView`, or a `CartError` for `error`. */
export type CartEventListener = (event: CustomEvent<CartView> | CustomEvent<CartError>) => void;
/** Per event name, what its listener receives (merged into the class wasm-bindgen declares). */
export interface CartClient {
  /** Listens for `change` (the cart changed, here, in another tab or on another device), `status` (connection or
   *  pending count changed) and `error` (a `CartError` with a `code`). The event's `detail` is the view (or error). */
  addEventListener<K extends keyof CartEventMap>(kind: K, listener: (event: CustomEvent<CartEventMap[K]>) => void): void;
  removeEventListener<K extends keyof CartEventMap>(kind: K, listener: (event: CustomEvent<CartEventMap[K]>) => void): void;
}
/** One line of a `PRICE_CHANGED` refusal: the price the shopper saw, and the price now. */
export interface PriceChange { readonly sku: string; readonly seenPrice: number; readonly unitPrice: number; }
/** A line as the server prices it: the view's line, with the catalog's name and price (absent for an unknown sku). */
export interface PricedLine extends CartLine {
  readonly name: string | null; readonly unitPrice: number | null; readonly currency: string | null;
  readonly lineTotal: number | null; readonly available: boolean; readonly issue: string | null;
}
/** `priced()`: the cart as the server answers `GET {cartPath}`. Prices in the currency's minor unit. */
export interface PricedCart {
  id: string; lines: PricedLine[]; lineCount: number; itemCount: number; version: string;
  mergedAt: number | null; expiresAt: number | null;
  totals: { currency: string | null; subtotal: number; selectedLines: number; selectedItems: number };
}
export interface CheckoutOptions {
  /** The same key answers the same snapshot: reuse it when retrying a checkout yourself. */
  idempotencyKey?: string;
  /** Remove the checked-out lines from the cart in the same write. */
  removeCheckedOut?: boolean;
  /** The unit prices the shopper saw, by sku: a line whose price differs refuses the checkout (PRICE_CHANGED). */
  seenPrices?: Record<string, number>;
}
/** `checkout()`: the immutable snapshot the server stored (openapi.yaml, `Checkout`). */
export interface CheckoutSnapshot {
  id: string; cartId: string; createdAt: number; version: string; currency: string;
  lines: { sku: string; name: string; qty: number; unitPrice: number; currency: string; lineTotal: number }[];
  lineCount: number; itemCount: number; subtotal: number; removedFromCart: boolean;
}
/** `share()`: the server's answer; `token` opens `path`, `GET /v1/shared/{token}`. */
export interface ShareLink { token: string; path: string; cart: PricedCart; }
/** Thrown and dispatched errors: a real Error with name "CartError" and a stable code. */
export interface CartError extends Error {
  /** For a refused `batch()`, the position of the operation that could not apply. */
  index?: number;
  code: "INVALID_SKU" | "INVALID_QUANTITY" | "QUANTITY_LIMIT" | "CART_FULL" | "LINE_NOT_FOUND" | "CART_DAMAGED"
    | "INVALID_BODY" | "TOO_MANY_OPS"
    | "INVALID_TOKEN" | "TOKEN_EXPIRED" | "MISSING_TOKEN" | "INVALID_POLICY" | "ALREADY_SIGNED_IN" | "WRONG_USER"
    | "NOT_SIGNED_IN" | "STORAGE_CORRUPT" | "STORAGE_FULL" | "SYNC_FAILED" | "UPGRADE_REQUIRED" | "INTERNAL"
    | "NOT_SYNCED" | "NETWORK_ERROR" | "PRICE_CHANGED" | "NOTHING_TO_CHECK_OUT" | (string & {});
  /** For an error the server answered (priced, checkout, share): its HTTP status. */
  status?: number;
  /** For PRICE_CHANGED: the lines whose price changed, with the current ones. */
  lines?: PriceChange[];
}
"#;
