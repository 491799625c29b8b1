// Vue binding: `useCart(client)` returns a read-only shallow ref holding the cart's view, updated on every change
// and released with the component (or effect scope) that called it. A null client (server-side rendering) gives
// the server snapshot, an empty cart.
import { getCurrentScope, onScopeDispose, readonly, shallowRef } from 'vue';
import { cartStore } from './store.js';

export { SERVER_VIEW, cartStore } from './store.js';

export function useCart(client) {
  const store = cartStore(client);
  const view = shallowRef(store.getSnapshot());
  const stop = store.subscribe(() => {
    view.value = store.getSnapshot();
  });
  if (getCurrentScope()) onScopeDispose(stop);
  return readonly(view);
}
