import type {
  CartClient, CartClientOptions, CartEventMap, CartOp, CartView, CheckoutOptions, CheckoutSnapshot, MergeReport,
  PricedCart, ShareLink,
} from './cart_client.js';

/** What `bootCart` takes beside CartClient's options. */
export interface BootOptions {
  /** Where the wasm is (default: `cart_client_bg.wasm` next to `cart_client.js`); compiled streaming. */
  wasm?: string | URL;
  /** Makes the library's client (tests, or bundlers that load the library themselves). */
  load?: (options: CartClientOptions) => Promise<CartClient>;
}

/**
 * The cart at first paint: CartClient's interface, usable before the wasm library has arrived. Until then `view()`
 * is the last view this browser stored and edits are checked, shown and recorded; once the library is ready they
 * are applied to it as ordinary offline edits and every call goes to it. Calls that need the library itself throw
 * `NOT_READY` before it is ready (`login`, `setToken`) or wait for it (the ones returning promises).
 */
export interface BootedCart {
  /** The library's client, once it has loaded (rejects with `FREED` if `free()` came first). */
  readonly ready: Promise<CartClient>;
  /** The library's client, or null while it is loading. */
  readonly client: CartClient | null;
  readonly token: string | undefined;
  readonly cartPath: string | undefined;
  view(): CartView;
  add(sku: string, qty?: number): void;
  setQuantity(sku: string, qty: number): void;
  setSelected(sku: string, selected: boolean): void;
  selectAll(selected: boolean): void;
  remove(sku: string): void;
  clear(): void;
  batch(ops: CartOp[]): void;
  undo(): string[];
  connect(): void;
  disconnect(): void;
  login(token: string, policy?: "max" | "sum"): MergeReport;
  setToken(token: string): void;
  logout(timeoutMs?: number): Promise<boolean>;
  /** The library's flush; before it is ready, `false` once `timeoutMs` pass without it (no timeout: waits). */
  flush(timeoutMs?: number): Promise<boolean>;
  priced(timeoutMs?: number): Promise<PricedCart>;
  checkout(options?: CheckoutOptions): Promise<CheckoutSnapshot>;
  share(): Promise<ShareLink>;
  addEventListener<K extends keyof CartEventMap>(kind: K, listener: (event: CustomEvent<CartEventMap[K]>) => void): void;
  removeEventListener<K extends keyof CartEventMap>(kind: K, listener: (event: CustomEvent<CartEventMap[K]>) => void): void;
  /** Calls `callback(view)` on every change; returns a function that stops it. */
  subscribe(callback: (view: CartView) => void): () => void;
  /** Stops listening, stops loading the library (or frees its client). */
  free(): void;
}

/** A cart for the API at `baseUrl` that works at once; the library loads in the background. */
export declare function bootCart(baseUrl: string, options?: CartClientOptions, boot?: BootOptions): BootedCart;
