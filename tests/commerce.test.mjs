// Commerce on top of the cart, against the real worker: catalog prices and flags in every view, idempotent
// checkout snapshots, share links and copies, idle expiry by alarms, write rate limits, and per-request logs.
// The demo catalog (catalog/demo.json) is loaded by scripts/dev.sh.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { call, newCartId, newUserId, startServer, tokenFor, upgradeAnswer } from './support/cart.mjs';
import { initSync, CartClient } from '../client-wasm/pkg/cart_client.js';

const add = (id, sku, qty = 1, url) => call('POST', `/v1/carts/${id}/lines`, { json: { sku, qty }, url });
const checkout = (path, key, json, token) =>
  call('POST', `${path}/checkout`, { headers: key ? { 'idempotency-key': key } : {}, json, token });
const line = (view, sku) => view.lines.find((l) => l.sku === sku);

test('every view carries current prices and totals; unknown, sold-out and over-limit lines are kept and flagged', async () => {
  const id = newCartId();
  await add(id, 'TEA-SENCHA', 2);
  await add(id, 'MUG-STONE', 1);
  await call('PATCH', `/v1/carts/${id}/lines/MUG-STONE`, { json: { selected: false } });
  await add(id, 'BOWL-RAKU', 1); // stock 0
  await add(id, 'MATCHA-30', 11); // maxPerLine 10
  await add(id, 'SCALE-01', 9); // stock 8
  const { status, body: view } = await add(id, 'NOT-IN-CATALOG', 1);
  assert.equal(status, 200);
  assert.equal(view.lineCount, 6, 'flagged lines are kept');
  assert.deepEqual(
    Object.fromEntries(view.lines.map((l) => [l.sku, [l.available, l.issue]])),
    {
      'TEA-SENCHA': [true, null],
      'MUG-STONE': [true, null],
      'BOWL-RAKU': [false, 'OUT_OF_STOCK'],
      'MATCHA-30': [false, 'ABOVE_MAX_PER_LINE'],
      'SCALE-01': [false, 'INSUFFICIENT_STOCK'],
      'NOT-IN-CATALOG': [false, 'UNKNOWN_SKU'],
    },
  );
  assert.deepEqual(
    (({ name, unitPrice, currency, lineTotal }) => ({ name, unitPrice, currency, lineTotal }))(line(view, 'TEA-SENCHA')),
    { name: 'Sencha green tea, 100 g', unitPrice: 1290, currency: 'EUR', lineTotal: 2580 },
  );
  assert.equal(line(view, 'NOT-IN-CATALOG').unitPrice, null);
  // Only selected, available lines count: the sencha. The mug is deselected, the others flagged.
  assert.deepEqual(view.totals, { currency: 'EUR', subtotal: 2580, selectedLines: 1, selectedItems: 2 });
  const read = (await call('GET', `/v1/carts/${id}`)).body;
  assert.deepEqual(read.totals, view.totals);
  assert.ok(read.expiresAt > Date.now() + 29 * 24 * 3600 * 1000, 'a guest cart lives 30 idle days');

  const catalog = (await call('GET', '/v1/catalog')).body.products;
  assert.ok(catalog.length >= 13);
  assert.deepEqual(catalog.find((p) => p.sku === 'BOWL-RAKU').stock, 0);
  assert.deepEqual(catalog.map((p) => p.sku), [...catalog.map((p) => p.sku)].sort());
});

test('checkout freezes the selected, available lines once per Idempotency-Key; a new key after edits makes a new one', async () => {
  const id = newCartId();
  const path = `/v1/carts/${id}`;
  await add(id, 'TEA-SENCHA', 2);
  await add(id, 'MUG-STONE', 1);
  await call('PATCH', `${path}/lines/MUG-STONE`, { json: { selected: false } });
  await add(id, 'BOWL-RAKU', 1);
  const version = (await call('GET', path)).body.version;

  const missing = await checkout(path, undefined);
  assert.equal(missing.status, 400);
  assert.equal(missing.body.error.code, 'MISSING_IDEMPOTENCY_KEY');

  const key = randomUUID();
  const [first, racing] = await Promise.all([checkout(path, key), checkout(path, key)]);
  assert.deepEqual([first.status, racing.status].sort(), [200, 201], 'one makes it, the other replays it');
  assert.deepEqual(first.body, racing.body);
  const snapshot = first.body;
  assert.match(snapshot.id, /^co_[A-Za-z0-9_-]{22}$/);
  assert.equal(snapshot.version, version);
  assert.deepEqual(snapshot.lines, [
    { sku: 'TEA-SENCHA', name: 'Sencha green tea, 100 g', qty: 2, unitPrice: 1290, currency: 'EUR', lineTotal: 2580 },
  ]);
  assert.equal(snapshot.subtotal, 2580);
  assert.equal(snapshot.removedFromCart, false);

  await add(id, 'TEA-SENCHA', 1);
  const replay = await checkout(path, key);
  assert.equal(replay.status, 200);
  assert.deepEqual(replay.body, snapshot, 'the same key answers the same snapshot, even after edits');
  const fresh = await checkout(path, randomUUID());
  assert.equal(fresh.status, 201);
  assert.notEqual(fresh.body.id, snapshot.id);
  assert.equal(fresh.body.lines[0].qty, 3);
  assert.equal((await call('GET', `${path}/checkouts/${snapshot.id}`)).body.id, snapshot.id);
  assert.equal((await call('GET', `${path}/checkouts/co_AAAAAAAAAAAAAAAAAAAAAA`)).body.error.code, 'CHECKOUT_NOT_FOUND');

  // Checked-out lines can leave the cart with the snapshot; the rest stays.
  const removing = randomUUID();
  const taken = await checkout(path, removing, { removeCheckedOut: true });
  assert.equal(taken.status, 201);
  assert.equal(taken.body.removedFromCart, true);
  const after = (await call('GET', path)).body;
  assert.deepEqual(after.lines.map((l) => l.sku).sort(), ['BOWL-RAKU', 'MUG-STONE']);
  assert.deepEqual((await checkout(path, removing, { removeCheckedOut: true })).body, taken.body);
  assert.equal((await call('GET', path)).body.version, after.version, 'a replay changes nothing');

  const nothing = await checkout(path, randomUUID());
  assert.equal(nothing.status, 422);
  assert.equal(nothing.body.error.code, 'NOTHING_TO_CHECK_OUT');
  const bad = await checkout(path, 'x'.repeat(300));
  assert.equal(bad.body.error.code, 'INVALID_IDEMPOTENCY_KEY');

  const user = newUserId('checkout');
  await call('POST', '/v1/me/cart/lines', { json: { sku: 'TEA-EARL', qty: 2 }, token: tokenFor(user) });
  const mine = await checkout('/v1/me/cart', randomUUID(), undefined, tokenFor(user));
  assert.equal(mine.status, 201);
  assert.equal(mine.body.subtotal, 1980);
});

test('a share link shows a read-only copy; copying it into another cart adds its lines once', async () => {
  const source = newCartId();
  await add(source, 'TEA-SENCHA', 2);
  await add(source, 'MUG-STONE', 1);
  const shared = await call('POST', `/v1/carts/${source}/share`);
  assert.equal(shared.status, 201);
  const { token } = shared.body;
  assert.match(token, /^[A-Za-z0-9_-]{43}$/, '256 random bits');
  assert.equal(shared.body.path, `/v1/shared/${token}`);
  assert.equal(shared.body.cart.totals.subtotal, 2 * 1290 + 1800);

  await add(source, 'CUP-GLASS', 1);
  const view = (await call('GET', `/v1/shared/${token}`)).body;
  assert.deepEqual(view.lines.map((l) => [l.sku, l.qty]).sort(), [['MUG-STONE', 1], ['TEA-SENCHA', 2]], 'a snapshot');
  assert.equal(line(view, 'MUG-STONE').unitPrice, 1800);
  for (const [method, route] of [['POST', `/v1/shared/${token}`], ['POST', `/v1/shared/${token}/lines`], ['DELETE', `/v1/shared/${token}`]]) {
    assert.ok([404, 405].includes((await call(method, route, { json: {} })).status), `${method} ${route} cannot edit`);
  }

  const target = newCartId();
  await add(target, 'TEA-SENCHA', 1);
  const copied = await call('POST', `/v1/carts/${target}/copy`, { json: { from: token } });
  assert.equal(copied.status, 200);
  assert.deepEqual(copied.body.cart.lines.map((l) => [l.sku, l.qty]).sort(), [['MUG-STONE', 1], ['TEA-SENCHA', 3]]);
  const again = await call('POST', `/v1/carts/${target}/copy`, { json: { from: token } });
  assert.equal(again.body.merged.alreadyMerged, true);
  assert.equal(again.body.cart.itemCount, 4, 'copying the same share twice counts once');
  assert.equal((await call('GET', `/v1/carts/${source}`)).body.itemCount, 4, 'the original is untouched');

  assert.equal((await call('GET', `/v1/shared/${'A'.repeat(43)}`)).body.error.code, 'SHARE_NOT_FOUND');
  assert.equal((await call('GET', '/v1/shared/short')).body.error.code, 'SHARE_NOT_FOUND');
  assert.equal((await call('POST', `/v1/carts/${target}/copy`, { json: { from: 'A'.repeat(43) } })).status, 404);
  const empty = await call('POST', `/v1/carts/${newCartId()}/share`);
  assert.equal(empty.status, 422);
  assert.equal(empty.body.error.code, 'NOTHING_TO_SHARE');
});

test('every answer has a Server-Timing header and every request is logged as one JSON line', async () => {
  const id = newCartId();
  const res = await add(id, 'TEA-EARL', 1);
  assert.match(res.headers.get('server-timing'), /^total;dur=\d+$/);
  const logFile = process.env.CART_SERVER_LOG;
  assert.ok(logFile, 'run through scripts/with-dev-server.sh');
  let entry;
  for (let i = 0; i < 50 && !entry; i++) {
    entry = readFileSync(logFile, 'utf8').split('\n')
      .filter((l) => l.includes('"msg":"request"'))
      .map((l) => JSON.parse(l.slice(l.indexOf('{'))))
      .find((e) => e.cart === `${id.slice(0, 6)}…` && e.method === 'POST');
    if (!entry) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(entry, 'the request was logged');
  assert.equal(entry.route, '/v1/carts/{cartId}/lines');
  assert.equal(entry.status, 200);
  assert.equal(typeof entry.durationMs, 'number');
  assert.ok(!JSON.stringify(entry).includes(id), 'a guest cart id is a secret: only its prefix is logged');
});

// A server of its own, with a 2-second guest TTL and small write buckets.
let limited;
after(async () => { await limited?.stop(); });

test('writes beyond a cart\'s or a client\'s bucket get 429 with Retry-After, and the library waits as told', async () => {
  limited = await startServer({
    port: 8793,
    env: {
      CART_VARS: 'GUEST_CART_TTL_SECONDS:2 CART_WRITE_BURST:3 CART_WRITES_PER_SECOND:0.5 CLIENT_WRITE_BURST:8 CLIENT_WRITES_PER_SECOND:1',
    },
  });
  const url = limited.url;
  const busy = newCartId();
  for (let i = 0; i < 3; i++) assert.equal((await add(busy, 'TEA-EARL', 1, url)).status, 200);
  const refused = await add(busy, 'TEA-EARL', 1, url);
  assert.equal(refused.status, 429);
  assert.equal(refused.body.error.code, 'RATE_LIMITED');
  assert.match(refused.body.error.message, /this cart/);
  assert.ok(Number(refused.headers.get('retry-after')) >= 1);
  assert.equal((await call('GET', `/v1/carts/${busy}`, { url })).body.itemCount, 3, 'the refused write changed nothing');
  // Opening a socket costs a write token too (every later write is pushed to it).
  const upgrade = await upgradeAnswer(`/v1/carts/${busy}/sync?layout=3`, url);
  assert.equal(upgrade.status, 429);
  assert.equal(upgrade.body.error.code, 'RATE_LIMITED');

  const other = newCartId();
  for (let i = 0; i < 4; i++) await add(other, 'TEA-EARL', 1, url); // client tokens: 8 - 4 - 4 = 0
  const flood = await add(newCartId(), 'TEA-EARL', 1, url);
  assert.equal(flood.status, 429);
  assert.match(flood.body.error.message, /this client/);

  // The library (HTTP transport) gets 429s on its sync exchanges and waits Retry-After before each retry. It signs
  // in, because guest carts on this server expire after 2 idle seconds.
  initSync({ module: readFileSync(new URL('../client-wasm/pkg/cart_client_bg.wasm', import.meta.url)) });
  const client = new CartClient(url, { storageKey: `limited-${process.pid}`, transport: 'http', autoConnect: false });
  const user = newUserId('limited');
  try {
    client.login(tokenFor(user));
    client.add('MUG-STONE', 2);
    client.connect();
    assert.equal(await client.flush(45_000), true, 'everything arrives once the buckets refill');
    const server = (await call('GET', '/v1/me/cart', { url, token: tokenFor(user) })).body;
    assert.equal(server.itemCount, 2);
    const exchanges = limited.log().split('\n')
      .filter((l) => l.includes('"msg":"request"'))
      .map((l) => JSON.parse(l.slice(l.indexOf('{'))))
      .filter((e) => e.route === '/v1/me/cart/sync');
    const refusals = exchanges.filter((e) => e.status === 429);
    assert.ok(refusals.length >= 1, 'the client was limited');
    for (const r of refusals) {
      const next = exchanges.find((e) => e.ts > r.ts);
      if (next) assert.ok(next.ts - r.ts >= 900, `retried ${next.ts - r.ts} ms after a 429`);
    }
  } finally {
    client.disconnect();
  }
});

test('an idle guest cart expires: the alarm deletes it from storage', async () => {
  const url = limited.url;
  await new Promise((r) => setTimeout(r, 8500)); // this client's write bucket (8, 1/s) refills after the library's retries before
  const id = newCartId();
  assert.equal((await call('GET', `/v1/carts/${id}`, { url })).body.expiresAt, null, 'never written: no expiry');
  const written = await add(id, 'TEA-EARL', 1, url);
  assert.equal(written.status, 200);
  const { expiresAt } = written.body;
  assert.ok(expiresAt >= Date.now() + 500 && expiresAt <= Date.now() + 2500, `expiresAt ${expiresAt}`);
  // A second cart whose object has dropped its loaded cart: the alarm finds the expiry from storage alone.
  const cold = newCartId();
  assert.equal((await add(cold, 'TEA-EARL', 1, url)).status, 200);
  assert.equal((await call('POST', `/v1/dev/carts/${cold}/evict`, { url })).status, 204);
  const stored = async (cart) => {
    // The stats route loads the cart; only ask once the alarm has had its chance.
    const s = (await call('GET', `/v1/dev/carts/${cart}/storage`, { url })).body;
    return [s.changeRows, s.snapshotBytes];
  };
  await new Promise((r) => setTimeout(r, 3500));
  let left;
  for (let i = 0; i < 50; i++) {
    left = [await stored(id), await stored(cold)];
    if (left.flat().every((n) => n === 0)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.deepEqual(left, [[0, 0], [0, 0]], 'nothing left in storage, for the loaded and the cold object');
  for (const cart of [id, cold]) {
    const view = (await call('GET', `/v1/carts/${cart}`, { url })).body;
    assert.deepEqual([view.lines, view.expiresAt], [[], null]);
  }
});

test('a batch of 120 operations costs one write token, as one add does', async () => {
  // A server of its own: the cart bucket is the one under test, and the client bucket is large enough that what
  // the tests before left running (a library client reconnecting pays a write token) cannot empty it.
  const server = await startServer({
    port: 8790,
    env: { CART_VARS: 'CART_WRITE_BURST:3 CART_WRITES_PER_SECOND:0.01 CLIENT_WRITE_BURST:100 CLIENT_WRITES_PER_SECOND:10' },
  });
  try {
    const url = server.url;
    const id = newCartId();
    const batch = (n) => call('POST', `/v1/carts/${id}/ops`, { url, json: { ops: Array.from({ length: 40 }, (_, i) => ({ op: 'add', sku: `B${n}-${i}` })) } });
    // The cart's bucket holds 3 tokens: three batches of 40 lines fit, a fourth waits.
    for (let n = 0; n < 3; n++) {
      const answer = await batch(n);
      assert.equal(answer.status, 200, `batch ${n}: ${JSON.stringify(answer.body)}`);
    }
    const fourth = await batch(3);
    assert.equal(fourth.status, 429);
    assert.equal(fourth.body.error.code, 'RATE_LIMITED');
    assert.match(fourth.body.error.message, /this cart/, 'the cart bucket, not the client one');
    assert.equal((await call('GET', `/v1/carts/${id}`, { url })).body.lineCount, 120);
  } finally {
    await server.stop();
  }
});

test('reads beyond a client\'s read bucket get 429 RATE_LIMITED with Retry-After, writes keep their own bucket', async () => {
  const server = await startServer({ port: 8791, env: { CART_VARS: 'CLIENT_READ_BURST:5 CLIENT_READS_PER_SECOND:0.2' } });
  try {
    const id = newCartId();
    for (let i = 0; i < 5; i++) assert.equal((await call('GET', `/v1/carts/${id}`, { url: server.url })).status, 200);
    const refused = await call('GET', `/v1/carts/${id}`, { url: server.url });
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error.code, 'RATE_LIMITED');
    assert.match(refused.body.error.message, /reads from this client/);
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
    assert.equal((await add(id, 'TEA-EARL', 1, server.url)).status, 200, 'writes are counted apart');
  } finally {
    await server.stop();
  }
});
