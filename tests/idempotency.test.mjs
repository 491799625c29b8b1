// Idempotency-Key on every JSON write (lines, merge, copy; checkout has its own, see commerce.test): a retry with
// the same key and request gets the same answer and applies once; the same key with another request is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { call, newCartId, newUserId, tokenFor } from './support/cart.mjs';

const cart = (id) => `/v1/carts/${id}`;
const keyed = (key) => ({ 'idempotency-key': key });
const qty = (body, sku) => body.lines.find((l) => l.sku === sku)?.qty ?? 0;

test('a retried add with the same Idempotency-Key gets the same answer and applies once', async () => {
  const id = newCartId();
  const key = `add-${newCartId()}`;
  const first = await call('POST', `${cart(id)}/lines`, { json: { sku: 'MUG', qty: 2 }, headers: keyed(key) });
  assert.equal(first.status, 200);
  const retry = await call('POST', `${cart(id)}/lines`, { json: { sku: 'MUG', qty: 2 }, headers: keyed(key) });
  assert.equal(retry.status, 200);
  assert.deepEqual(retry.body, first.body, 'the same answer');
  assert.equal(qty((await call('GET', cart(id))).body, 'MUG'), 2, 'applied once');
  // Without a key, the same request is a new add.
  await call('POST', `${cart(id)}/lines`, { json: { sku: 'MUG', qty: 2 } });
  assert.equal(qty((await call('GET', cart(id))).body, 'MUG'), 4);
});

test('the same key with another request gets 422 IDEMPOTENCY_KEY_REUSED and changes nothing', async () => {
  const id = newCartId();
  const key = `reuse-${newCartId()}`;
  await call('POST', `${cart(id)}/lines`, { json: { sku: 'MUG', qty: 1 }, headers: keyed(key) });
  const before = (await call('GET', cart(id))).body;
  for (const [method, path, json] of [
    ['POST', `${cart(id)}/lines`, { sku: 'MUG', qty: 5 }],
    ['PATCH', `${cart(id)}/lines/MUG`, { qty: 9 }],
    ['DELETE', `${cart(id)}/lines/MUG`],
  ]) {
    const res = await call(method, path, { json, headers: keyed(key) });
    assert.equal(res.status, 422, `${method} ${path}`);
    assert.equal(res.body.error.code, 'IDEMPOTENCY_KEY_REUSED');
  }
  const after = (await call('GET', cart(id))).body;
  assert.equal(after.version, before.version);
});

test('a retried PATCH or DELETE applies once even when the cart changed in between', async () => {
  const id = newCartId();
  await call('POST', `${cart(id)}/lines`, { json: { sku: 'MUG', qty: 1 } });
  const del = `del-${newCartId()}`;
  assert.deepEqual((await call('DELETE', `${cart(id)}/lines/MUG`, { headers: keyed(del) })).body.lines, []);
  await call('POST', `${cart(id)}/lines`, { json: { sku: 'MUG', qty: 3 } });
  const retried = await call('DELETE', `${cart(id)}/lines/MUG`, { headers: keyed(del) });
  assert.deepEqual(retried.body.lines, [], 'the stored answer');
  assert.equal(qty((await call('GET', cart(id))).body, 'MUG'), 3, 'the line added since is still there');
  const set = `set-${newCartId()}`;
  await call('PATCH', `${cart(id)}/lines/MUG`, { json: { qty: 5 }, headers: keyed(set) });
  await call('POST', `${cart(id)}/lines`, { json: { sku: 'MUG', qty: 1 } });
  await call('PATCH', `${cart(id)}/lines/MUG`, { json: { qty: 5 }, headers: keyed(set) });
  assert.equal(qty((await call('GET', cart(id))).body, 'MUG'), 6, 'the retried set did not undo the add since');
});

test('a retried login merge and a retried copy with the same key get the same answer', async () => {
  const user = newUserId();
  const token = tokenFor(user);
  const guest = newCartId();
  await call('POST', `${cart(guest)}/lines`, { json: { sku: 'GUEST', qty: 2 } });
  const key = `merge-${newCartId()}`;
  const first = await call('POST', '/v1/me/cart/merge', { json: { guestCartId: guest }, token, headers: keyed(key) });
  assert.equal(first.status, 200);
  assert.equal(first.body.merged.alreadyMerged, false);
  const retry = await call('POST', '/v1/me/cart/merge', { json: { guestCartId: guest }, token, headers: keyed(key) });
  assert.deepEqual(retry.body.merged, first.body.merged, 'the stored answer, not "already merged"');
  const source = newCartId();
  await call('POST', `${cart(source)}/lines`, { json: { sku: 'SHARED', qty: 1 } });
  const share = await call('POST', `${cart(source)}/share`);
  const id = newCartId();
  const copyKey = `copy-${newCartId()}`;
  const copied = await call('POST', `${cart(id)}/copy`, { json: { from: share.body.token }, headers: keyed(copyKey) });
  assert.equal(copied.status, 200);
  const again = await call('POST', `${cart(id)}/copy`, { json: { from: share.body.token }, headers: keyed(copyKey) });
  assert.deepEqual(again.body.merged, copied.body.merged);
  assert.equal(qty((await call('GET', cart(id))).body, 'SHARED'), 1);
});

test('a malformed Idempotency-Key is refused with 400 INVALID_IDEMPOTENCY_KEY', async () => {
  const id = newCartId();
  const res = await call('POST', `${cart(id)}/lines`, { json: { sku: 'MUG', qty: 1 }, headers: keyed('x'.repeat(256)) });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.code, 'INVALID_IDEMPOTENCY_KEY');
  assert.deepEqual((await call('GET', cart(id))).body.lines, []);
});

test('a keyed write that stores nothing on a never-written cart keeps no key and creates no storage', async () => {
  const id = newCartId();
  const removed = await call('DELETE', `${cart(id)}/lines/NOTHING`, { headers: keyed(`noop-${newCartId()}`) });
  assert.equal(removed.status, 200);
  const storage = (await call('GET', `/v1/dev/carts/${id}/storage`)).body;
  assert.deepEqual([storage.snapshotBytes, storage.changeRows, storage.changeBytes], [0, 0, 0]);
  // The digest of a store without tables is SHA-256 of nothing.
  assert.equal(storage.digest, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'no tables of ours');
});
