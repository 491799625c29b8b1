// Liveness and static assets, through the real workerd started by scripts/with-dev-server.sh.
import { test } from 'node:test';
import assert from 'node:assert/strict';

const base = process.env.CART_BASE_URL;

test('health answers ok with the cart schema version', async () => {
  const res = await fetch(`${base}/health`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  assert.deepEqual(await res.json(), { ok: true, schema: 1 });
});

test('the storefront page is served from www as a static asset', async () => {
  const res = await fetch(`${base}/`);
  assert.equal(res.status, 200);
  assert.match(await res.text(), /<title>edge-cart<\/title>/);
});

test('an unknown route is a 404', async () => {
  const res = await fetch(`${base}/no-such-route`);
  assert.equal(res.status, 404);
});
