import type { CartClient, CartView } from './cart_client.js';
export { SERVER_VIEW, cartStore } from './store.js';
export type { CartStore } from './store.js';

/** The cart's view, re-rendering on every change; `SERVER_VIEW` while `client` is null (server-side rendering). */
export declare function useCart(client: CartClient | null | undefined): CartView;
