import type { MaybeRefOrGetter, ShallowRef } from 'vue';
import type { CartClient, CartView } from './cart_client.js';
export { SERVER_VIEW, cartStore } from './store.js';
export type { CartStore } from './store.js';

/** A read-only ref to the cart's view, updated on every change; `SERVER_VIEW` while the client is null. `client`
 *  may be a ref or getter, to hand the client over after server-side rendering. */
export declare function useCart(
  client: MaybeRefOrGetter<CartClient | null | undefined>,
): Readonly<ShallowRef<CartView>>;
