// Vue binding: `useCart(client)` returns a read-only shallow ref holding the cart's view, updated on every change
// and released with the component (or effect scope) that called it. `client` may be a CartClient, null (server-side
// rendering: the server snapshot, an empty cart), or a ref or getter of either, so a page can render on the server
// with null and hand the client over once it exists (e.g. in onMounted), without a hydration mismatch.
import { getCurrentScope, onScopeDispose, readonly, shallowRef, toValue, watch } from 'vue';
import { cartStore } from './store.js';

export { SERVER_VIEW, cartStore } from './store.js';

export function useCart(client) {
  const view = shallowRef(cartStore(toValue(client)).getSnapshot());
  let stop = () => {};
  const follow = (current) => {
    stop();
    const store = cartStore(current);
    view.value = store.getSnapshot();
    stop = store.subscribe(() => {
      view.value = store.getSnapshot();
    });
  };
  follow(toValue(client));
  // Outside a component or effect scope nothing would remove the listener: a plain client is then followed for as
  // long as it lives, and a ref or getter is not watched.
  if (getCurrentScope()) {
    watch(() => toValue(client), follow);
    onScopeDispose(() => stop());
  }
  return readonly(view);
}
