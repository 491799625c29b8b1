// The React and Vue bindings of the browser library (the package built by `make client`, subpaths `./react` and
// `./vue`), under Node 22 with a real localStorage: the store's contract with useSyncExternalStore (one snapshot
// per state, a callback per change), React's server rendering (no client, no storage), and Vue's reactivity.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createElement } from 'react';
import { renderToString } from 'react-dom/server';
import { effectScope, watch, nextTick } from 'vue';
import { initSync, CartClient } from '../client-wasm/pkg/cart_client.js';
import { cartStore, SERVER_VIEW } from '../client-wasm/pkg/store.js';
import { useCart as useReactCart } from '../client-wasm/pkg/react.js';
import { useCart as useVueCart } from '../client-wasm/pkg/vue.js';

before(() => {
  initSync({ module: readFileSync(new URL('../client-wasm/pkg/cart_client_bg.wasm', import.meta.url)) });
});

let n = 0;
const offlineCart = () => new CartClient('http://127.0.0.1:9', { storageKey: `bind-${process.pid}-${n++}`, transport: 'none', autoConnect: false });

test('the store hands out one snapshot per state and calls back once per change until unsubscribed', () => {
  const cart = offlineCart();
  const store = cartStore(cart);
  assert.equal(cartStore(cart), store, 'one store per client, so subscriptions stay put');
  const first = store.getSnapshot();
  assert.equal(store.getSnapshot(), first, 'the same object while nothing changed');
  let calls = 0;
  const stop = store.subscribe(() => { calls += 1; });
  cart.add('MUG', 2);
  assert.equal(calls, 1);
  const second = store.getSnapshot();
  assert.notEqual(second, first);
  assert.deepEqual(second.lines.map((l) => [l.sku, l.qty]), [['MUG', 2]]);
  assert.throws(() => cart.add('MUG', 0), (e) => e.code === 'INVALID_QUANTITY');
  assert.equal(store.getSnapshot(), second, 'a refused edit is no new snapshot');
  stop();
  cart.add('MUG', 1);
  assert.equal(calls, 1, 'no callback after unsubscribing');
  assert.equal(store.getServerSnapshot(), SERVER_VIEW);
  cart.free();
});

test('React renders the server snapshot on the server, without a client or LocalStorage', () => {
  const touched = [];
  const real = globalThis.localStorage;
  Object.defineProperty(globalThis, 'localStorage', { configurable: true, get: () => { touched.push('localStorage'); return real; } });
  try {
    const Panel = ({ cart }) => {
      const view = useReactCart(cart);
      return createElement('p', { 'data-status': view.status }, `${view.itemCount} items`);
    };
    const html = renderToString(createElement(Panel, { cart: null }));
    assert.equal(html, '<p data-status="offline">0 items</p>');
    assert.deepEqual(touched, []);
  } finally {
    Object.defineProperty(globalThis, 'localStorage', { configurable: true, value: real, writable: true });
  }
  assert.ok(Object.isFrozen(SERVER_VIEW) && Object.isFrozen(SERVER_VIEW.lines));
});

test('Vue\'s useCart is a read-only ref that follows every change and lets go with its scope', async () => {
  const cart = offlineCart();
  const scope = effectScope();
  const view = scope.run(() => useVueCart(cart));
  assert.equal(view.value, cart.view());
  const seen = [];
  scope.run(() => watch(view, (v) => seen.push(v.itemCount)));
  cart.add('TEA', 3);
  await nextTick();
  assert.deepEqual(seen, [3]);
  assert.equal(view.value, cart.view());
  view.value = null;
  assert.equal(view.value, cart.view(), 'read-only: the assignment is refused');
  scope.stop();
  cart.add('TEA', 1);
  await nextTick();
  assert.equal(view.value.itemCount, 3, 'released with its scope: no more updates');
  assert.equal(useVueCart(null).value, SERVER_VIEW);
  cart.free();
});

test('Vue\'s useCart follows a ref from no client (server rendering) to the client once it exists', async () => {
  const { shallowRef: ref } = await import('vue');
  const source = ref(null);
  const scope = effectScope();
  const view = scope.run(() => useVueCart(source));
  assert.equal(view.value, SERVER_VIEW);
  const cart = offlineCart();
  cart.add('CUP', 2);
  source.value = cart;
  await nextTick();
  assert.equal(view.value, cart.view());
  cart.add('CUP', 1);
  assert.equal(view.value.itemCount, 3);
  scope.stop();
  cart.free();
});

test('the package\'s TypeScript types accept what a storefront writes and refuse writing to a view', async () => {
  const { execFileSync } = await import('node:child_process');
  const tsc = new URL('../node_modules/typescript/bin/tsc', import.meta.url).pathname;
  const usage = new URL('./types/usage.ts', import.meta.url).pathname;
  // Fails on any type error, and on an @ts-expect-error line that is no longer an error.
  execFileSync(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext',
    '--target', 'es2022', '--lib', 'esnext,dom', usage], { stdio: 'pipe' });
});
