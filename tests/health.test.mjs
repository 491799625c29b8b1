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

test('the storefront page is revalidated and its content-hashed script, stylesheet and wasm are cached for a year', async () => {
  const res = await fetch(`${base}/`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('cache-control') ?? '', /max-age=0, must-revalidate/);
  const html = await res.text();
  assert.match(html, /<title>edge-cart demo shop<\/title>/);
  const script = html.match(/<script type="module" src="(\/assets\/app\.[A-Z0-9]+\.js)">/)?.[1];
  const style = html.match(/<link rel="stylesheet" href="(\/assets\/style\.[A-Z0-9]+\.css)">/)?.[1];
  assert.ok(script && style, 'the page names hashed assets');
  const app = await fetch(`${base}${script}`);
  assert.equal(app.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  const code = await app.text();
  const wasmName = code.match(/cart_client_bg\.[0-9a-f]{12}\.wasm/)?.[0];
  const chunk = code.match(/cart_client\.[A-Z0-9]+\.js/)?.[0];
  assert.ok(wasmName && chunk, 'the bundle names the library chunk and the wasm by their hashes');
  for (const path of [style, `/assets/${chunk}`]) {
    assert.equal((await fetch(`${base}${path}`)).headers.get('cache-control'), 'public, max-age=31536000, immutable', path);
  }
  const wasm = await fetch(`${base}/assets/${wasmName}`);
  assert.equal(wasm.status, 200);
  assert.equal(wasm.headers.get('content-type'), 'application/wasm');
  assert.equal(wasm.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  assert.ok(WebAssembly.validate(new Uint8Array(await wasm.arrayBuffer())));
});

test('an unknown route is a 404', async () => {
  const res = await fetch(`${base}/no-such-route`);
  assert.equal(res.status, 404);
});
