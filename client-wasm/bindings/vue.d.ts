import type { ShallowRef } from 'vue';
import type { CartClient, CartView } from './cart_client.js';
export { SERVER_VIEW, cartStore } from './store.js';
export type { CartStore } from './store.js';

/** A read-only ref to the cart's view, updated on every change; `SERVER_VIEW` while `client` is null. */
export declare function useCart(client: CartClient | null | undefined): Readonly<ShallowRef<CartView>>;
