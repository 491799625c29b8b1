// Liveness and static assets, through the real workerd started by scripts/with-dev-server.sh.
import { test } from 'node:test';
import assert from 'node:assert/strict';

const base = process.env.CART_BASE_URL;

test('health answers ok with the cart schema version and the layout it writes', async () => {
  const res = await fetch(`${base}/health`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  assert.deepEqual(await res.json(), { ok: true, schema: 1, layout: 3 });
});

test('the storefront page and the browser library it imports are served from www as static assets', async () => {
  const res = await fetch(`${base}/`);
  assert.equal(res.status, 200);
  const html = await res.text();
  assert.match(html, /<title>edge-cart demo shop<\/title>/);
  assert.match(html, /<script type="module" src="app.js">/);
  const wasm = await fetch(`${base}/pkg/cart_client_bg.wasm`);
  assert.equal(wasm.status, 200);
  assert.equal(wasm.headers.get('content-type'), 'application/wasm');
  assert.ok(WebAssembly.validate(new Uint8Array(await wasm.arrayBuffer())));
});

test('an unknown route is a 404', async () => {
  const res = await fetch(`${base}/no-such-route`);
  assert.equal(res.status, 404);
});
