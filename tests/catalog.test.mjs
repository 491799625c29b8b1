// Prices current at the floor's speed: an isolate reuses a catalog entry for CATALOG_CACHE_SECONDS when pricing
// views; checkout always reads the catalog fresh and refuses with 409 PRICE_CHANGED when a price differs from the
// one the shopper was shown. On a worker of its own (the suite's shared one reads the catalog fresh for views).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { call, newCartId, startServer, unlimited } from './support/cart.mjs';

const root = new URL('..', import.meta.url).pathname;
const persistTo = mkdtempSync(join(tmpdir(), 'cart-catalog-'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let server;
let url;

/** Writes `products` (EUR) into this worker's catalog (its KV namespace). */
function putProducts(products) {
  const file = join(mkdtempSync(join(tmpdir(), 'catalog-')), 'catalog.json');
  writeFileSync(file, JSON.stringify({ currency: 'EUR', products }));
  execFileSync('bash', ['scripts/seed-catalog.sh', file], { cwd: root, stdio: 'ignore', env: { ...process.env, PERSIST_TO: persistTo } });
}

before(async () => {
  server = await startServer({ port: 8784, persistTo, env: { CART_VARS: `${unlimited.CART_VARS} CATALOG_CACHE_SECONDS:8` } });
  url = server.url;
});
after(async () => { await server?.stop(); });

const priceOf = async (id, sku) => (await call('GET', `/v1/carts/${id}`, { url })).body.lines.find((l) => l.sku === sku)?.unitPrice;

test('views reuse an isolate\'s catalog read for CATALOG_CACHE_SECONDS, then show the new price', async () => {
  const sku = `CACHED-${newCartId().slice(0, 8)}`;
  putProducts([{ sku, name: 'Cached mug', price: 1000, stock: 50 }]);
  const id = newCartId();
  assert.equal((await call('POST', `/v1/carts/${id}/lines`, { json: { sku }, url })).body.lines[0].unitPrice, 1000);
  putProducts([{ sku, name: 'Cached mug', price: 1200, stock: 50 }]);
  assert.equal(await priceOf(id, sku), 1000, 'within the cache time, the read of a moment ago');
  await sleep(8_500);
  assert.equal(await priceOf(id, sku), 1200, 'after it, the catalog as it is');
});

test('checkout reads prices fresh and refuses with 409 PRICE_CHANGED, listing the lines, when they differ from what the shopper saw', async () => {
  const sku = `FRESH-${newCartId().slice(0, 8)}`;
  putProducts([{ sku, name: 'Fresh tea', price: 500, stock: 50 }]);
  const id = newCartId();
  await call('POST', `/v1/carts/${id}/lines`, { json: { sku, qty: 2 }, url });
  const shown = await priceOf(id, sku);
  assert.equal(shown, 500);
  putProducts([{ sku, name: 'Fresh tea', price: 650, stock: 50 }]);
  assert.equal(await priceOf(id, sku), 500, 'views still show the cached price');
  const checkout = (seen) => call('POST', `/v1/carts/${id}/checkout`, {
    url, json: { seenPrices: { [sku]: seen } }, headers: { 'idempotency-key': `co-${newCartId()}` },
  });
  const refused = await checkout(shown);
  assert.equal(refused.status, 409);
  assert.equal(refused.body.error.code, 'PRICE_CHANGED');
  assert.deepEqual(refused.body.error.lines, [{ sku, seenPrice: 500, unitPrice: 650 }]);
  assert.equal((await call('GET', `/v1/carts/${id}`, { url })).body.lineCount, 1, 'nothing checked out');
  // The checkout's fresh read is what views show from now on, so the page can price again and retry.
  assert.equal(await priceOf(id, sku), 650);
  const made = await checkout(650);
  assert.equal(made.status, 201);
  assert.equal(made.body.lines[0].unitPrice, 650);
  assert.equal(made.body.subtotal, 1300);
});
