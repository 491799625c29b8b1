// One command, one transaction, on the real workerd: the dev build's fault injection makes the Nth storage
// statement from now of a cart's object throw (`POST /v1/dev/{carts|users}/{id}/fail`), for every N until the
// request has fewer statements. After each failure the answer is a coded 5xx, storage holds exactly what it held
// before (a digest of every row), and the next request serves the cart; the command then applies once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { call, newCartId, newUserId, tokenFor } from './support/cart.mjs';

const cart = (id) => `/v1/carts/${id}`;

/** The object's storage digest and the cart as the API shows it. */
async function snapshot(devPath, read) {
  const storage = await call('GET', `${devPath}/storage`);
  assert.equal(storage.status, 200);
  const view = await read();
  assert.equal(view.status, 200, 'the cart serves');
  return { digest: storage.body.digest, stats: storage.body, lines: view.body.lines.map((l) => [l.sku, l.qty, l.selected]), version: view.body.version };
}

/**
 * Runs `command` with statement 1, 2, ... of it failing until it succeeds; checks every failure changed nothing.
 * Returns how many failures were injected and the successful answer.
 */
async function failEveryStatement({ devPath, read, command, cold = false }) {
  for (let n = 1; n <= 200; n++) {
    const before = await snapshot(devPath, read);
    // Cold: the object loads the cart from storage within the command, so its reads can fail too.
    if (cold) assert.equal((await call('POST', `${devPath}/evict`)).status, 204);
    assert.equal((await call('POST', `${devPath}/fail`, { json: { statement: n } })).status, 200);
    const res = await command();
    if (res.status < 300) {
      // Fewer statements than n: the failure was never reached (not reached and swallowed), and is disarmed.
      const disarmed = await call('POST', `${devPath}/fail`, { json: { statement: 0 } });
      assert.equal(disarmed.status, 200);
      assert.ok(disarmed.body.left > 0, `statement ${n} failed and the command still succeeded`);
      return { failures: n - 1, res };
    }
    assert.equal(res.status, 500, `statement ${n}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error.code, 'INTERNAL');
    const after = await snapshot(devPath, read);
    assert.equal(after.digest, before.digest, `statement ${n} failed: storage is exactly as before`);
    assert.deepEqual([after.lines, after.version], [before.lines, before.version], `statement ${n} failed: the cart is as before`);
  }
  throw new Error('the command never succeeded');
}

test('an add, a set and a remove that fail at any storage statement change nothing, and the retry applies once', async () => {
  const id = newCartId();
  const dev = `/v1/dev/carts/${id}`;
  const read = () => call('GET', cart(id));
  await call('POST', `${cart(id)}/lines`, { json: { sku: 'MUG', qty: 2 } });
  const add = await failEveryStatement({ devPath: dev, read, command: () => call('POST', `${cart(id)}/lines`, { json: { sku: 'MUG', qty: 1 } }) });
  assert.ok(add.failures >= 2, `the add was failed at ${add.failures} statements`);
  assert.equal(add.res.body.lines.find((l) => l.sku === 'MUG').qty, 3, 'applied once');
  const set = await failEveryStatement({ devPath: dev, read, command: () => call('PATCH', `${cart(id)}/lines/MUG`, { json: { qty: 7, selected: false } }) });
  assert.ok(set.failures >= 2);
  assert.deepEqual(set.res.body.lines.map((l) => [l.sku, l.qty, l.selected]), [['MUG', 7, false]]);
  const removed = await failEveryStatement({ devPath: dev, read, command: () => call('DELETE', `${cart(id)}/lines/MUG`) });
  assert.ok(removed.failures >= 2);
  assert.deepEqual(removed.res.body.lines, []);
  const cold = await failEveryStatement({ devPath: dev, read, cold: true, command: () => call('POST', `${cart(id)}/lines`, { json: { sku: 'TEE', qty: 1 } }) });
  assert.ok(cold.failures > add.failures, `a cold add has more statements to fail (${cold.failures})`);
  assert.deepEqual(cold.res.body.lines.map((l) => [l.sku, l.qty]), [['TEE', 1]]);
});

test('a keyed add that fails at any storage statement stores neither the add nor its key, and the retry applies once', async () => {
  const id = newCartId();
  const key = `faulty-${newCartId()}`;
  const add = () => call('POST', `${cart(id)}/lines`, { json: { sku: 'MUG', qty: 1 }, headers: { 'idempotency-key': key } });
  const done = await failEveryStatement({ devPath: `/v1/dev/carts/${id}`, read: () => call('GET', cart(id)), command: add });
  assert.ok(done.failures >= 3, `the key's row is one more statement (${done.failures})`);
  const retry = await add();
  assert.deepEqual(retry.body, done.res.body, 'the stored answer');
  assert.equal((await call('GET', cart(id))).body.lines.find((l) => l.sku === 'MUG').qty, 1, 'applied once');
});

test('a login merge that fails at any storage statement of the user cart changes nothing, and the retry merges once', async () => {
  const user = newUserId();
  const token = tokenFor(user);
  await call('POST', '/v1/me/cart/lines', { json: { sku: 'MINE', qty: 1 }, token });
  const guest = newCartId();
  await call('POST', `${cart(guest)}/lines`, { json: { sku: 'GUEST', qty: 2 } });
  const merged = await failEveryStatement({
    devPath: `/v1/dev/users/${user}`,
    read: () => call('GET', '/v1/me/cart', { token }),
    command: () => call('POST', '/v1/me/cart/merge', { json: { guestCartId: guest }, token }),
  });
  assert.ok(merged.failures >= 2);
  assert.deepEqual(merged.res.body.cart.lines.map((l) => [l.sku, l.qty]).sort(), [['GUEST', 2], ['MINE', 1]]);
  const again = await call('POST', '/v1/me/cart/merge', { json: { guestCartId: guest }, token });
  assert.equal(again.body.merged.alreadyMerged, true);
});

test('a copy from a share link that fails at any storage statement changes nothing, and the retry copies once', async () => {
  const source = newCartId();
  await call('POST', `${cart(source)}/lines`, { json: { sku: 'SHARED', qty: 2 } });
  const share = await call('POST', `${cart(source)}/share`);
  assert.equal(share.status, 201);
  const id = newCartId();
  await call('POST', `${cart(id)}/lines`, { json: { sku: 'OWN', qty: 1 } });
  const copied = await failEveryStatement({
    devPath: `/v1/dev/carts/${id}`,
    read: () => call('GET', cart(id)),
    command: () => call('POST', `${cart(id)}/copy`, { json: { from: share.body.token } }),
  });
  assert.ok(copied.failures >= 2);
  const lines = (await call('GET', cart(id))).body.lines.map((l) => [l.sku, l.qty]).sort();
  assert.deepEqual(lines, [['OWN', 1], ['SHARED', 2]]);
});

test('a checkout that removes its lines and fails at any storage statement stores neither the snapshot nor the removal', async () => {
  const id = newCartId();
  await call('POST', `${cart(id)}/lines`, { json: { sku: 'TEA-SENCHA', qty: 2 } });
  await call('POST', `${cart(id)}/lines`, { json: { sku: 'MUG-STONE', qty: 1 } });
  const key = `key-${newCartId()}`;
  const checkout = () => call('POST', `${cart(id)}/checkout`, { json: { removeCheckedOut: true }, headers: { 'idempotency-key': key } });
  const done = await failEveryStatement({ devPath: `/v1/dev/carts/${id}`, read: () => call('GET', cart(id)), command: checkout });
  assert.ok(done.failures >= 2, `failed at ${done.failures} statements`);
  assert.equal(done.res.status, 201);
  assert.deepEqual((await call('GET', cart(id))).body.lines, [], 'the checked-out lines are gone, once');
  const stored = await call('GET', `${cart(id)}/checkouts/${done.res.body.id}`);
  assert.equal(stored.status, 200);
  const retry = await checkout();
  assert.equal(retry.status, 200, 'the same key answers the same checkout');
  assert.equal(retry.body.id, done.res.body.id);
});

test('a write that compacts and rewrites the read model, failing at any storage statement, leaves a cart that loads as before', async () => {
  const id = newCartId();
  const dev = `/v1/dev/carts/${id}`;
  const read = () => call('GET', cart(id));
  // A cart whose stored document keeps a read model (>= 16 KiB).
  assert.equal((await call('POST', `${dev}/seed`, { json: { edits: 1500 } })).status, 200);
  const sku = (await read()).body.lines[0].sku;
  let compacted = false;
  for (let write = 0; write < 400 && !compacted; write++) {
    const stats = (await call('GET', `${dev}/storage`)).body;
    assert.ok(stats.viewBytes > 0, 'the cart keeps a read model');
    // Only the writes that may compact go through every failure; the others just grow the increments.
    const mayCompact = stats.changeBytes + 400 >= Math.max(stats.snapshotBytes, 16384);
    // The seeded cart is full (120 lines): grow its history by setting a line it has.
    const command = () => call('PATCH', `${cart(id)}/lines/${sku}`, { json: { qty: 1 + (write % 9) } });
    if (!mayCompact) {
      assert.equal((await command()).status, 200);
      continue;
    }
    const done = await failEveryStatement({ devPath: dev, read, command });
    assert.ok(done.failures >= 2);
    const after = (await call('GET', `${dev}/storage`)).body;
    compacted = after.changeRows === 0;
    assert.equal(after.viewCurrent, true, 'the read model covers every change');
  }
  assert.ok(compacted, 'a compacting write was tested');
  // A cold object (evicted) loads the compacted cart and answers from the read model alike.
  const warm = await read();
  assert.equal((await call('POST', `${dev}/evict`)).status, 204);
  const cold = await read();
  assert.deepEqual(cold.body, warm.body);
});
