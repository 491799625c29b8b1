// The server's lifecycle: restarts and hard kills lose no acknowledged write, history stays compact, and the dev
// routes exist only in dev. Each test starts its own wrangler dev with the project's scripts/dev.sh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { call, newCartId, send, startServer, unlimited } from './support/cart.mjs';

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

test('every acknowledged write survives a restart and a hard kill of the server', async () => {
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

    // A hard kill in the middle of a write load: whatever got a 2xx must be there afterwards.
    const load = pool(400, 8, (i) => send(agent, 'POST', `${server.url}/v1/carts/${id}/lines`, { sku: 'UNDER-LOAD', qty: 1 }));
    await new Promise((r) => setTimeout(r, 400));
    await server.stop('SIGKILL');
    const acked = (await load).filter((s) => s === 200).length;
    server = await startServer({ port: 8797, persistTo, env: unlimited });
    const afterKill = (await call('GET', `/v1/carts/${id}`, { url: server.url })).body;
    const underLoad = afterKill.lines.find((l) => l.sku === 'UNDER-LOAD')?.qty ?? 0;
    assert.ok(underLoad >= acked, `acknowledged ${acked}, found ${underLoad}`);
    assert.equal(afterKill.itemCount, 40 + underLoad);
  } finally {
    agent.destroy();
    await server.stop();
  }
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
