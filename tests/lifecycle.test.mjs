// The server's lifecycle: restarts and hard kills of workerd (bench/crash.mjs) lose no acknowledged write, history
// stays compact, and the dev routes exist only in dev. Each test starts its own wrangler dev with the project's scripts/dev.sh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { call, newCartId, send, startServer, unlimited } from './support/cart.mjs';
import { runCrashLoop } from '../bench/crash.mjs';

/** Runs `count` tasks with at most `width` in flight. */
async function pool(count, width, task) {
  let next = 0;
  const results = new Array(count);
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < count) {
      const i = next++;
      results[i] = await task(i);
    }
  }));
  return results;
}

test('every acknowledged write survives a clean restart', async () => {
  let server = await startServer({ port: 8797, env: unlimited });
  const persistTo = server.persistTo;
  const id = newCartId();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  try {
    const statuses = await pool(40, 8, (i) => send(agent, 'POST', `${server.url}/v1/carts/${id}/lines`, { sku: `S${i % 5}`, qty: 1 }));
    assert.ok(statuses.every((s) => s === 200));
    const before = (await call('GET', `/v1/carts/${id}`, { url: server.url })).body;
    assert.equal(before.itemCount, 40);

    await server.stop('SIGTERM');
    server = await startServer({ port: 8797, persistTo, env: unlimited });
    const afterRestart = (await call('GET', `/v1/carts/${id}`, { url: server.url })).body;
    assert.deepEqual(afterRestart.lines, before.lines);
    assert.equal(afterRestart.version, before.version);
  } finally {
    agent.destroy();
    await server.stop();
  }
});

test('three hard kills of workerd at random moments under a write load lose no acknowledged add', async () => {
  const seed = Date.now() % 100000;
  const rows = await runCrashLoop({ port: 8797, rounds: 3, seed });
  assert.equal(rows.length, 3);
  assert.ok(rows.every((r) => r.workerdKilled > 0), `a workerd was found and killed each round: ${JSON.stringify(rows)}`);
  assert.ok(rows.every((r) => r.acked > 0), `each round acknowledged writes before its kill: ${JSON.stringify(rows)}`);
  assert.equal(rows.reduce((s, r) => s + r.lost, 0), 0, `seed ${seed}`);
  // Nothing extra either: beyond the acknowledged adds, at most the one add per connection in flight at the kill.
  assert.ok(rows.every((r) => r.landedUnacked >= 0 && r.landedUnacked <= 8), `seed ${seed}: ${JSON.stringify(rows)}`);
});

test('10,000 edits: storage stays bounded by compaction and a restart reloads the same cart', async () => {
  let server = await startServer({ port: 8796, env: unlimited });
  const persistTo = server.persistTo;
  const id = newCartId();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  try {
    // 120 lines, then a storefront-like mix: mostly +1, some quantity sets.
    const statuses = await pool(10_000, 16, (i) => {
      const sku = `SKU-${i % 120}`;
      if (i >= 120 && i % 5 === 0) {
        return send(agent, 'PATCH', `${server.url}/v1/carts/${id}/lines/${sku}`, { qty: 1 + (i % 7) });
      }
      return send(agent, 'POST', `${server.url}/v1/carts/${id}/lines`, { sku, qty: 1 });
    });
    assert.equal(statuses.filter((s) => s !== 200).length, 0, 'every edit was acknowledged');
    const view = (await call('GET', `/v1/carts/${id}`, { url: server.url })).body;
    assert.equal(view.lineCount, 120);
    const stats = (await call('GET', `/v1/dev/carts/${id}/storage`, { url: server.url })).body;
    const stored = stats.snapshotBytes + stats.changeBytes;
    // Without compaction 10,000 incremental saves would be over a megabyte (each is ~130 bytes).
    assert.ok(stats.snapshotBytes > 0, 'compaction produced a snapshot');
    assert.ok(stats.changeBytes <= Math.max(stats.snapshotBytes, 16 * 1024) + 4096, JSON.stringify(stats));
    assert.ok(stored < 256 * 1024, `stored ${stored} bytes: ${JSON.stringify(stats)}`);

    await server.stop();
    server = await startServer({ port: 8796, persistTo, env: unlimited });
    const reloaded = (await call('GET', `/v1/carts/${id}`, { url: server.url })).body;
    assert.deepEqual(reloaded, view);
  } finally {
    agent.destroy();
    await server.stop();
  }
});

test('a cold object answers a long-lived cart from its read model, identical to the loaded cart and never stale', async () => {
  const server = await startServer({ port: 8794, env: unlimited });
  const opts = { url: server.url };
  const id = newCartId();
  const small = newCartId();
  try {
    assert.equal((await call('POST', `/v1/carts/${small}/lines`, { json: { sku: 'MUG', qty: 1 }, ...opts })).status, 200);
    const smallStats = (await call('GET', `/v1/dev/carts/${small}/storage`, opts)).body;
    assert.equal(smallStats.viewBytes, 0, 'a small cart keeps no read model: loading it is cheap');

    const seeded = await call('POST', `/v1/dev/carts/${id}/seed`, { json: { edits: 5000 }, ...opts });
    assert.equal(seeded.status, 200);
    assert.ok(seeded.body.snapshotBytes + seeded.body.changeBytes >= 16 * 1024, JSON.stringify(seeded.body));
    assert.ok(seeded.body.viewBytes > 0, `the long-lived cart keeps a read model: ${JSON.stringify(seeded.body)}`);
    assert.equal(seeded.body.viewCurrent, true, 'the read model covers every stored change, so a cold read uses it');
    const warm = await call('GET', `/v1/carts/${id}`, opts);
    assert.equal(warm.status, 200);

    assert.equal((await call('POST', `/v1/dev/carts/${id}/evict`, opts)).status, 204);
    const cold = await call('GET', `/v1/carts/${id}`, opts);
    assert.equal(cold.status, 200);
    assert.deepEqual(cold.body, warm.body, 'the read model gives the same priced view');
    assert.equal(cold.headers.get('etag'), warm.headers.get('etag'));
    const notModified = await call('GET', `/v1/carts/${id}`, { headers: { 'if-none-match': warm.headers.get('etag') }, ...opts });
    assert.equal(notModified.status, 304, 'a cold object honours If-None-Match from the read model');

    // A write on a cold object loads the document; the read model then describes that write.
    assert.equal((await call('POST', `/v1/dev/carts/${id}/evict`, opts)).status, 204);
    const removed = await call('DELETE', `/v1/carts/${id}/lines/SKU-0`, opts);
    assert.equal(removed.status, 200);
    assert.equal(removed.body.lines.find((l) => l.sku === 'SKU-0'), undefined);
    const added = await call('POST', `/v1/carts/${id}/lines`, { json: { sku: 'NEW-LINE', qty: 2 }, ...opts });
    assert.equal(added.status, 200);
    assert.equal((await call('POST', `/v1/dev/carts/${id}/evict`, opts)).status, 204);
    const after = await call('GET', `/v1/carts/${id}`, opts);
    assert.deepEqual(after.body, added.body, 'the cold read shows the last acknowledged write');
    assert.notEqual(after.headers.get('etag'), warm.headers.get('etag'));
    assert.equal(after.body.lines.find((l) => l.sku === 'NEW-LINE')?.qty, 2);
    assert.equal(after.body.lines.find((l) => l.sku === 'SKU-0'), undefined);
    const stats = (await call('GET', `/v1/dev/carts/${id}/storage`, opts)).body;
    assert.equal(stats.viewCurrent, true, `still current after more writes: ${JSON.stringify(stats)}`);
  } finally {
    await server.stop();
  }
});

test('outside dev mode the dev routes do not exist', async () => {
  const server = await startServer({ port: 8795, env: { CART_ENVIRONMENT: 'production' } });
  try {
    const token = await call('POST', '/v1/dev/token', { json: { userId: 'mallory' }, url: server.url });
    assert.equal(token.status, 404);
    assert.equal(token.body.error.code, 'NOT_FOUND');
    const id = newCartId();
    for (const [method, path, json] of [
      ['GET', `/v1/dev/carts/${id}/storage`],
      ['POST', `/v1/dev/carts/${id}/seed`, { edits: 10 }],
      ['POST', `/v1/dev/carts/${id}/noop`],
      ['POST', `/v1/dev/carts/${id}/evict`],
      ['POST', `/v1/dev/carts/${id}/noop-write`],
      ['POST', `/v1/dev/carts/${id}/lines-unpriced`, { sku: 'MUG', qty: 1 }],
      ['POST', `/v1/dev/carts/${id}/sync-unchecked`],
      ['POST', `/v1/dev/carts/${id}/panic`],
    ]) {
      const res = await call(method, path, { json, url: server.url });
      assert.equal(res.status, 404, `${method} ${path}`);
    }
    assert.equal((await call('GET', `/v1/carts/${id}`, { url: server.url })).body.lineCount, 0, 'the seed route did nothing');
    const health = await call('GET', '/health', { url: server.url });
    assert.equal(health.status, 200, 'the rest of the service is there');
  } finally {
    await server.stop();
  }
});

test('a JWT key shorter than 32 bytes is refused with 500 AUTH_NOT_CONFIGURED, and wrangler.toml holds no key', async () => {
  const toml = readFileSync(new URL('../wrangler.toml', import.meta.url), 'utf8');
  assert.ok(!/^\s*CART_JWT_SECRET\s*=/m.test(toml), 'the key is a secret, never a [vars] entry');
  const server = await startServer({ port: 8792, env: { CART_JWT_SECRET: 'only-31-bytes-long-xxxxxxxxxxxx' } });
  try {
    const res = await call('GET', '/v1/me/cart', { url: server.url, token: 'a.b.c' });
    assert.equal(res.status, 500);
    assert.equal(res.body.error.code, 'AUTH_NOT_CONFIGURED');
    assert.match(res.body.error.message, /32 bytes/);
  } finally {
    await server.stop();
  }
});
