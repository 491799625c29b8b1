// Batches for server-rendered shops: POST /v1/carts/{id}/ops and /v1/me/cart/ops take up to 250 operations, checked
// whole, applied as one change with one durable write and one reply, against the real workerd.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { call, newCartId, newUserId, tokenFor } from './support/cart.mjs';
import { A, httpSync } from './support/peer.mjs';

const ops = (id, list, headers = {}) => call('POST', `/v1/carts/${id}/ops`, { json: { ops: list }, headers });
const fill = (n, from = 0) => Array.from({ length: n }, (_, i) => ({ op: 'add', sku: `FILL-${from + i}` }));
const qtys = (view) => Object.fromEntries(view.lines.map((l) => [l.sku, l.qty]));

test('a 120-line fill is one request that answers the filled cart, as one change', async () => {
  const id = newCartId();
  const res = await ops(id, fill(120));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.lineCount, 120);
  assert.equal(res.body.itemCount, 120);
  const read = await call('GET', `/v1/carts/${id}`);
  assert.equal(read.body.lineCount, 120, 'durable: read back');
  // As many changes in its history as a cart with a single add: the batch is one change.
  const single = newCartId();
  await call('POST', `/v1/carts/${single}/lines`, { json: { sku: 'ONE' } });
  const changes = async (cartId) => A.getAllChanges((await httpSync(`/v1/carts/${cartId}/sync`, A.init())).doc).length;
  assert.equal(await changes(id), await changes(single));
});

test('every operation kind, in order, each seeing the ones before it', async () => {
  const id = newCartId();
  await ops(id, [{ op: 'add', sku: 'OLD', qty: 3 }]);
  const res = await ops(id, [
    { op: 'add', sku: 'MUG', qty: 2 },
    { op: 'set', sku: 'MUG', qty: 5 },
    { op: 'add', sku: 'TEA' },
    { op: 'select', sku: 'TEA', selected: false },
    { op: 'remove', sku: 'OLD' },
  ]);
  assert.equal(res.status, 200);
  assert.deepEqual(qtys(res.body), { MUG: 5, TEA: 1 });
  assert.equal(res.body.lines.find((l) => l.sku === 'TEA').selected, false);
  const all = await ops(id, [{ op: 'selectAll', selected: false }]);
  assert.ok(all.body.lines.every((l) => !l.selected));
  const cleared = await ops(id, [{ op: 'clear' }, { op: 'add', sku: 'AFTER' }]);
  assert.deepEqual(qtys(cleared.body), { AFTER: 1 });
});

test('a refused batch names the failing operation\'s index and leaves the cart as it was', async () => {
  const id = newCartId();
  await ops(id, [{ op: 'add', sku: 'KEPT', qty: 2 }]);
  const before = await call('GET', `/v1/carts/${id}`);
  const cases = [
    [[...fill(119), { op: 'add', sku: 'ONE-TOO-MANY' }], 422, 'CART_FULL', 119],
    [[{ op: 'add', sku: 'A' }, { op: 'add', sku: 'bad sku' }], 400, 'INVALID_SKU', 1],
    [[{ op: 'add', sku: 'KEPT', qty: 998 }], 422, 'QUANTITY_LIMIT', 0],
    [[{ op: 'remove', sku: 'KEPT' }, { op: 'select', sku: 'KEPT', selected: true }], 404, 'LINE_NOT_FOUND', 1],
    [[{ op: 'clear' }, { op: 'explode' }], 400, 'INVALID_BODY', 1],
    [[{ op: 'add', sku: 'A', qty: 1.5 }], 400, 'INVALID_QUANTITY', 0],
    [[{ op: 'add', sku: 'A', colour: 'red' }], 400, 'INVALID_BODY', 0],
    [Array.from({ length: 251 }, () => ({ op: 'clear' })), 400, 'TOO_MANY_OPS', undefined],
  ];
  for (const [list, status, code, index] of cases) {
    const res = await ops(id, list);
    assert.equal(res.status, status, `${code}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error.code, code);
    assert.equal(res.body.error.index, index, code);
  }
  const after = await call('GET', `/v1/carts/${id}`);
  assert.equal(after.headers.get('etag'), before.headers.get('etag'), 'nothing changed');
  assert.deepEqual(qtys(after.body), { KEPT: 2 });
  const empty = await call('POST', `/v1/carts/${id}/ops`, { json: { ops: [] } });
  assert.equal(empty.body.error.code, 'INVALID_BODY');
});

test('a batch retried with the same Idempotency-Key applies once', async () => {
  const id = newCartId();
  const headers = { 'idempotency-key': `batch-${newCartId()}` };
  const list = [{ op: 'add', sku: 'ONCE', qty: 2 }, { op: 'add', sku: 'AGAIN' }];
  const first = await ops(id, list, headers);
  const retry = await ops(id, list, headers);
  assert.equal(first.status, 200);
  assert.deepEqual(retry.body, first.body);
  assert.deepEqual(qtys((await call('GET', `/v1/carts/${id}`)).body), { ONCE: 2, AGAIN: 1 });
  const reused = await ops(id, [{ op: 'clear' }], headers);
  assert.equal(reused.status, 422);
  assert.equal(reused.body.error.code, 'IDEMPOTENCY_KEY_REUSED');
});

test('the signed-in user\'s cart takes batches too, with a token', async () => {
  const token = tokenFor(newUserId('batch'));
  const res = await call('POST', '/v1/me/cart/ops', { json: { ops: fill(3) }, token });
  assert.equal(res.status, 200);
  assert.equal(res.body.lineCount, 3);
  const anonymous = await call('POST', '/v1/me/cart/ops', { json: { ops: fill(1) } });
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.headers.get('www-authenticate'), 'Bearer');
});

test('a method a route does not take is a 405 that says which it does', async () => {
  const res = await call('GET', `/v1/carts/${newCartId()}/ops`);
  assert.equal(res.status, 405);
  assert.equal(res.body.error.code, 'METHOD_NOT_ALLOWED');
  assert.equal(res.headers.get('allow'), 'POST, OPTIONS');
  const lines = await call('PUT', `/v1/carts/${newCartId()}/lines/MUG`, { json: {} });
  assert.equal(lines.headers.get('allow'), 'PATCH, DELETE, OPTIONS');
});
