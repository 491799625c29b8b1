import type { CartClient, CartView } from './cart_client.js';

/** The view rendered on the server and before a client exists: an empty cart, offline, never stored. */
export declare const SERVER_VIEW: CartView;

export interface CartStore {
  /** Calls `onChange` whenever the view changes; returns the function that stops it. */
  subscribe(onChange: () => void): () => void;
  /** The view now: the same frozen object until something it shows changes. */
  getSnapshot(): CartView;
  /** What the server renders: `SERVER_VIEW`. */
  getServerSnapshot(): CartView;
}

/** The store of `client` (the same object for the same client), or the server's when there is none. */
export declare function cartStore(client: CartClient | null | undefined): CartStore;
