// React binding: `useCart(client)` re-renders with the cart's view, through useSyncExternalStore. Pass `null` on
// the server (or before the client is created in an effect): the server snapshot is an empty cart, and hydration
// then switches to the client's view without a mismatch warning.
import { useSyncExternalStore } from 'react';
import { cartStore } from './store.js';

export { SERVER_VIEW, cartStore } from './store.js';

export function useCart(client) {
  const store = cartStore(client);
  return useSyncExternalStore(store.subscribe, store.getSnapshot, store.getServerSnapshot);
}
