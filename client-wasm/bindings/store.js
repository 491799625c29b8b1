// The cart as an external store, the shape React's useSyncExternalStore and Vue's reactivity take: `subscribe`
// (called back on every change of the view: the cart, its sync status, its pending count) and `getSnapshot` (the
// client's view: one frozen object until something it shows changes, so comparing by identity is exact). No
// client means server-side rendering: the snapshot is a fixed empty cart and nothing touches LocalStorage.

/** The view rendered on the server and before a client exists: an empty cart, offline, never stored. */
export const SERVER_VIEW = Object.freeze({
  lines: Object.freeze([]),
  lineCount: 0,
  itemCount: 0,
  version: '',
  status: 'offline',
  pending: 0,
  persisted: false,
  canUndo: false,
  upgradeRequired: false,
});

const stores = new WeakMap();
const serverStore = Object.freeze({
  subscribe: () => () => {},
  getSnapshot: () => SERVER_VIEW,
  getServerSnapshot: () => SERVER_VIEW,
});

/** The store of `client` (the same object for the same client, so subscriptions stay put), or the server's. */
export function cartStore(client) {
  if (!client) return serverStore;
  let store = stores.get(client);
  if (!store) {
    store = Object.freeze({
      subscribe(onChange) {
        const listener = () => onChange();
        client.addEventListener('change', listener);
        client.addEventListener('status', listener);
        return () => {
          client.removeEventListener('change', listener);
          client.removeEventListener('status', listener);
        };
      },
      getSnapshot: () => client.view(),
      getServerSnapshot: () => SERVER_VIEW,
    });
    stores.set(client, store);
  }
  return store;
}
