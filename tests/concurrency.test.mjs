// Many writers at once: every acknowledged add is counted exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { base, call, newCartId, send } from './support/cart.mjs';

test('200 parallel adds to one cart from several connections sum exactly', async () => {
  const id = newCartId();
  // Four keep-alive pools of 8 sockets: the adds arrive over up to 32 connections at once.
  const agents = Array.from({ length: 4 }, () => new http.Agent({ keepAlive: true, maxSockets: 8 }));
  const statuses = await Promise.all(
    Array.from({ length: 200 }, (_, i) =>
      send(agents[i % agents.length], 'POST', `${base}/v1/carts/${id}/lines`, { sku: i % 2 ? 'ODD' : 'EVEN', qty: 1 }),
    ),
  );
  agents.forEach((a) => a.destroy());
  assert.deepEqual([...new Set(statuses)], [200], 'every add was acknowledged');
  const view = (await call('GET', `/v1/carts/${id}`)).body;
  assert.deepEqual(Object.fromEntries(view.lines.map((l) => [l.sku, l.qty])), { EVEN: 100, ODD: 100 });
  assert.equal(view.itemCount, 200);
});
