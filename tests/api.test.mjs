// The HTTP API contract, route by route, with every error code, against the real workerd.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { base, call, newCartId, newUserId, tokenFor } from './support/cart.mjs';
import { httpSync, A } from './support/peer.mjs';
import { DatabaseSync } from 'node:sqlite';

const root = new URL('..', import.meta.url).pathname;
/** Writes `products` (EUR) into the running dev server's catalog (its KV namespace, under PERSIST_TO). */
function putProducts(products) {
  const file = join(mkdtempSync(join(tmpdir(), 'catalog-')), 'catalog.json');
  writeFileSync(file, JSON.stringify({ currency: 'EUR', products }));
  execFileSync('bash', ['scripts/seed-catalog.sh', file], { cwd: root, stdio: 'ignore' });
}

const cart = (id) => `/v1/carts/${id}`;
const add = (id, json, opts = {}) => call('POST', `${cart(id)}/lines`, { json, ...opts });

async function assertUnchanged(id, before) {
  const after = await call('GET', cart(id));
  assert.equal(after.body.version, before.body.version, 'the cart is unchanged');
  assert.deepEqual(after.body.lines, before.body.lines);
}

describe('GET /v1/carts/{cartId}', () => {
  test('a cart never written is an empty cart with a version and a strong ETag, private and revalidated on every use', async () => {
    const id = newCartId();
    const res = await call('GET', cart(id));
    assert.equal(res.status, 200);
    assert.deepEqual(
      { id: res.body.id, lines: res.body.lines, lineCount: res.body.lineCount, itemCount: res.body.itemCount },
      { id, lines: [], lineCount: 0, itemCount: 0 },
    );
    assert.match(res.body.version, /^[0-9a-f]{64}$/);
    assert.match(res.headers.get('etag'), /^"[0-9a-f]{32}"$/);
    assert.equal(res.headers.get('cache-control'), 'private, no-cache');
  });

  test('a matching If-None-Match gets 304 Not Modified', async () => {
    const id = newCartId();
    await add(id, { sku: 'MUG', qty: 1 });
    const first = await call('GET', cart(id));
    const again = await call('GET', cart(id), { headers: { 'if-none-match': first.headers.get('etag') } });
    assert.equal(again.status, 304);
    await add(id, { sku: 'MUG', qty: 1 });
    const changed = await call('GET', cart(id), { headers: { 'if-none-match': first.headers.get('etag') } });
    assert.equal(changed.status, 200);
    assert.notEqual(changed.headers.get('etag'), first.headers.get('etag'));
  });

  test('a price or stock change in the catalog changes the ETag, so a stale If-None-Match gets the new price', async () => {
    const sku = `ETAG-${newCartId().slice(0, 8)}`;
    putProducts([{ sku, name: 'Priced mug', price: 1000, stock: 50 }]);
    const id = newCartId();
    await add(id, { sku, qty: 2 });
    const first = await call('GET', cart(id));
    assert.equal(first.body.lines[0].unitPrice, 1000);
    const etag = first.headers.get('etag');
    assert.equal((await call('GET', cart(id), { headers: { 'if-none-match': etag } })).status, 304, 'unchanged: 304');
    putProducts([{ sku, name: 'Priced mug', price: 1250, stock: 50 }]);
    const repriced = await call('GET', cart(id), { headers: { 'if-none-match': etag } });
    assert.equal(repriced.status, 200, 'the price changed: not a 304');
    assert.equal(repriced.body.lines[0].unitPrice, 1250);
    assert.equal(repriced.body.version, first.body.version, 'the cart itself did not change');
    assert.notEqual(repriced.headers.get('etag'), etag);
    putProducts([{ sku, name: 'Priced mug', price: 1250, stock: 1 }]);
    const restocked = await call('GET', cart(id), { headers: { 'if-none-match': repriced.headers.get('etag') } });
    assert.equal(restocked.status, 200, 'the stock changed: not a 304');
    assert.notEqual(restocked.headers.get('etag'), repriced.headers.get('etag'));
  });

  test('malformed cart ids are refused with INVALID_CART_ID', async () => {
    for (const id of ['short', 'x'.repeat(65), 'abcdefghijklmnopqrstuvwx!z', 'abcdefghijklmnopqrstuv%20']) {
      const res = await call('GET', cart(id));
      assert.equal(res.status, 400, id);
      assert.equal(res.body.error.code, 'INVALID_CART_ID');
    }
  });
});

describe('POST /v1/carts/{cartId}/lines', () => {
  test('adds to a line, creating it selected, and replies with the view', async () => {
    const id = newCartId();
    const res = await add(id, { sku: 'TEA-1', qty: 2 });
    assert.equal(res.status, 200);
    assert.equal(res.body.lines.length, 1);
    const [line] = res.body.lines;
    assert.deepEqual({ sku: line.sku, qty: line.qty, selected: line.selected }, { sku: 'TEA-1', qty: 2, selected: true });
    assert.ok(Math.abs(line.addedAt - Date.now()) < 60_000, 'addedAt is the server clock in ms');
    const more = await add(id, { sku: 'TEA-1' });
    assert.equal(more.body.lines[0].qty, 3, 'qty defaults to 1');
    assert.equal(more.body.itemCount, 3);
    assert.match(more.headers.get('etag'), /^"[0-9a-f]{32}"$/);
  });

  test('invalid skus get INVALID_SKU and change nothing', async () => {
    const id = newCartId();
    const before = await add(id, { sku: 'OK', qty: 1 });
    for (const sku of ['', 'has space', 'x'.repeat(65), 'é', 'a/b']) {
      const res = await add(id, { sku, qty: 1 });
      assert.equal(res.status, 400, sku);
      assert.equal(res.body.error.code, 'INVALID_SKU');
    }
    await assertUnchanged(id, before);
  });

  test('quantities that are not whole numbers in range get INVALID_QUANTITY', async () => {
    const id = newCartId();
    const before = await add(id, { sku: 'OK', qty: 1 });
    for (const qty of [0, -1, 1.5, '3', 1000, 1e12, true, {}]) {
      const res = await add(id, { sku: 'OK', qty });
      assert.equal(res.status, 400, JSON.stringify(qty));
      assert.equal(res.body.error.code, 'INVALID_QUANTITY', JSON.stringify(qty));
    }
    await assertUnchanged(id, before);
  });

  test('a line beyond 999 gets 422 QUANTITY_LIMIT', async () => {
    const id = newCartId();
    const before = await add(id, { sku: 'BULK', qty: 999 });
    const res = await add(id, { sku: 'BULK', qty: 1 });
    assert.equal(res.status, 422);
    assert.equal(res.body.error.code, 'QUANTITY_LIMIT');
    await assertUnchanged(id, before);
  });

  test('the 121st line gets 422 CART_FULL while existing lines stay editable', async () => {
    const id = newCartId();
    for (let i = 0; i < 120; i++) {
      const res = await add(id, { sku: `SKU-${i}`, qty: 1 });
      assert.equal(res.status, 200);
    }
    const before = await call('GET', cart(id));
    const res = await add(id, { sku: 'ONE-MORE', qty: 1 });
    assert.equal(res.status, 422);
    assert.equal(res.body.error.code, 'CART_FULL');
    await assertUnchanged(id, before);
    const edit = await add(id, { sku: 'SKU-0', qty: 2 });
    assert.equal(edit.status, 200);
    assert.equal(edit.body.lineCount, 120);
  });

  test('malformed JSON gets MALFORMED_JSON; wrong shapes get INVALID_BODY; nothing changes', async () => {
    const id = newCartId();
    const before = await add(id, { sku: 'OK', qty: 1 });
    for (const body of ['{bad', '', '[', '{"sku": "A", "qty": 1', '{"sku": "A", "qty": 1}}']) {
      const res = await call('POST', `${cart(id)}/lines`, { body, headers: { 'content-type': 'application/json' } });
      assert.equal(res.status, 400, body.slice(0, 20));
      assert.equal(res.body.error.code, 'MALFORMED_JSON', body.slice(0, 20));
    }
    const deep = '{"sku": "A", "qty": 1, "x": ' + '['.repeat(30_000) + ']'.repeat(30_000) + '}';
    const nested = await call('POST', `${cart(id)}/lines`, { body: deep, headers: { 'content-type': 'application/json' } });
    assert.equal(nested.status, 400, 'deeply nested JSON is refused, not a crash');
    assert.ok(['MALFORMED_JSON', 'INVALID_BODY'].includes(nested.body.error.code));
    for (const json of [{}, { qty: 1 }, { sku: 5 }, { sku: 'A', qty: 1, extra: true }, [], 'text']) {
      const res = await add(id, json);
      assert.equal(res.status, 400, JSON.stringify(json));
      assert.equal(res.body.error.code, 'INVALID_BODY', JSON.stringify(json));
    }
    await assertUnchanged(id, before);
  });

  test('a body that is not JSON gets 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const res = await call('POST', `${cart(newCartId())}/lines`, {
      body: 'sku=A&qty=1',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(res.status, 415);
    assert.equal(res.body.error.code, 'UNSUPPORTED_MEDIA_TYPE');
  });

  test('a checkout body that is not JSON gets 415 and checks nothing out; an empty one needs no Content-Type', async () => {
    const id = newCartId();
    assert.equal((await add(id, { sku: 'TEA-SENCHA', qty: 2 })).status, 200);
    const refused = await call('POST', `${cart(id)}/checkout`, {
      body: 'removeCheckedOut=true',
      headers: { 'content-type': 'text/plain', 'idempotency-key': `co-${id}` },
    });
    assert.equal(refused.status, 415);
    assert.equal(refused.body.error.code, 'UNSUPPORTED_MEDIA_TYPE');
    assert.deepEqual((await call('GET', cart(id))).body.lines.map((l) => [l.sku, l.qty]), [['TEA-SENCHA', 2]]);
    const made = await call('POST', `${cart(id)}/checkout`, { headers: { 'idempotency-key': `co-${id}` } });
    assert.equal(made.status, 201, 'the key was not used by the refused request');
  });

  test('a JSON body over 64 KiB gets 413 PAYLOAD_TOO_LARGE', async () => {
    const id = newCartId();
    const res = await add(id, { sku: 'A', qty: 1, pad: 'x'.repeat(65 * 1024) });
    assert.equal(res.status, 413);
    assert.equal(res.body.error.code, 'PAYLOAD_TOO_LARGE');
    assert.equal((await call('GET', cart(id))).body.lineCount, 0);
  });
});

describe('PATCH and DELETE /v1/carts/{cartId}/lines/{sku}', () => {
  test('PATCH sets quantity and selection; qty 0 removes the line', async () => {
    const id = newCartId();
    await add(id, { sku: 'A', qty: 2 });
    const res = await call('PATCH', `${cart(id)}/lines/A`, { json: { qty: 7, selected: false } });
    assert.equal(res.status, 200);
    assert.deepEqual([res.body.lines[0].qty, res.body.lines[0].selected], [7, false]);
    const sel = await call('PATCH', `${cart(id)}/lines/A`, { json: { selected: true } });
    assert.equal(sel.body.lines[0].selected, true);
    const gone = await call('PATCH', `${cart(id)}/lines/A`, { json: { qty: 0 } });
    assert.equal(gone.body.lineCount, 0);
  });

  test('PATCH can create a line by setting its quantity', async () => {
    const id = newCartId();
    const res = await call('PATCH', `${cart(id)}/lines/NEW`, { json: { qty: 3 } });
    assert.equal(res.status, 200);
    assert.equal(res.body.lines[0].qty, 3);
  });

  test('PATCH errors: EMPTY_PATCH, LINE_NOT_FOUND, INVALID_QUANTITY, INVALID_SKU, INVALID_BODY', async () => {
    const id = newCartId();
    const before = await add(id, { sku: 'A', qty: 1 });
    const cases = [
      ['A', {}, 400, 'EMPTY_PATCH'],
      ['ABSENT', { selected: false }, 404, 'LINE_NOT_FOUND'],
      ['A', { qty: 1000 }, 400, 'INVALID_QUANTITY'],
      ['A', { qty: -2 }, 400, 'INVALID_QUANTITY'],
      ['bad%20sku', { qty: 1 }, 400, 'INVALID_SKU'],
      ['A', { selected: 'yes' }, 400, 'INVALID_BODY'],
      ['A', { qty: 1, colour: 'red' }, 400, 'INVALID_BODY'],
    ];
    for (const [sku, json, status, code] of cases) {
      const res = await call('PATCH', `${cart(id)}/lines/${sku}`, { json });
      assert.equal(res.status, status, `${sku} ${JSON.stringify(json)}`);
      assert.equal(res.body.error.code, code, `${sku} ${JSON.stringify(json)}`);
    }
    await assertUnchanged(id, before);
  });

  test('DELETE removes the line, and removing an absent line is not an error', async () => {
    const id = newCartId();
    await add(id, { sku: 'A', qty: 1 });
    await add(id, { sku: 'B', qty: 1 });
    const res = await call('DELETE', `${cart(id)}/lines/A`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.lines.map((l) => l.sku), ['B']);
    const again = await call('DELETE', `${cart(id)}/lines/A`);
    assert.equal(again.status, 200);
    assert.equal(again.body.version, res.body.version, 'nothing was recorded');
  });
});

describe('routing, methods and CORS', () => {
  test('unknown routes get 404 NOT_FOUND and wrong methods 405 METHOD_NOT_ALLOWED', async () => {
    const nf = await call('GET', '/v1/nothing-here');
    assert.equal(nf.status, 404);
    assert.equal(nf.body.error.code, 'NOT_FOUND');
    const id = newCartId();
    for (const [method, path] of [['PUT', `${cart(id)}/lines`], ['POST', cart(id)], ['GET', `${cart(id)}/lines/A`], ['DELETE', '/health']]) {
      const res = await call(method, path);
      assert.equal(res.status, 405, `${method} ${path}`);
      assert.equal(res.body.error.code, 'METHOD_NOT_ALLOWED');
      // The shipped build keeps formatting: the message names the method.
      assert.equal(res.body.error.message, `${method} is not allowed here`);
    }
  });

  test('a preflight from the storefront origin is allowed with the API methods and headers', async () => {
    const res = await fetch(`${base}${cart(newCartId())}/lines`, {
      method: 'OPTIONS',
      headers: { origin: base, 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'content-type, authorization' },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), base);
    assert.match(res.headers.get('access-control-allow-methods'), /PATCH/);
    assert.match(res.headers.get('access-control-allow-headers'), /Authorization/);
  });

  test('a preflight from another origin is refused with CORS_ORIGIN_NOT_ALLOWED', async () => {
    const res = await fetch(`${base}${cart(newCartId())}`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
    });
    assert.equal(res.status, 403);
    assert.equal((await res.json()).error.code, 'CORS_ORIGIN_NOT_ALLOWED');
    const actual = await fetch(`${base}${cart(newCartId())}`, { headers: { origin: 'https://evil.example' } });
    assert.equal(actual.headers.get('access-control-allow-origin'), null);
  });

  test('actual requests from the storefront origin carry CORS headers exposing the ETag', async () => {
    const res = await fetch(`${base}${cart(newCartId())}`, { headers: { origin: base } });
    assert.equal(res.headers.get('access-control-allow-origin'), base);
    assert.match(res.headers.get('access-control-expose-headers'), /ETag/);
  });
});

describe('POST /v1/carts/{cartId}/sync (errors)', () => {
  test('garbage, empty and oversized sync bodies are refused and change nothing', async () => {
    const id = newCartId();
    const before = await add(id, { sku: 'A', qty: 1 });
    const garbage = await call('POST', `${cart(id)}/sync?layout=3`, { body: new Uint8Array([0x42, 1, 2, 3, 255]) });
    assert.equal(garbage.status, 400);
    assert.equal(garbage.body.error.code, 'MALFORMED_SYNC_MESSAGE');
    const empty = await call('POST', `${cart(id)}/sync?layout=3`, { body: new Uint8Array([]) });
    assert.equal(empty.body.error.code, 'MALFORMED_SYNC_MESSAGE');
    const big = await call('POST', `${cart(id)}/sync?layout=3`, { body: new Uint8Array(1024 * 1024 + 1) });
    assert.equal(big.status, 413);
    assert.equal(big.body.error.code, 'PAYLOAD_TOO_LARGE');
    await assertUnchanged(id, before);
  });

  test('GET on the sync route without a WebSocket upgrade gets 426 UPGRADE_REQUIRED', async () => {
    const res = await call('GET', `${cart(newCartId())}/sync?layout=3`);
    assert.equal(res.status, 426);
    assert.equal(res.body.error.code, 'UPGRADE_REQUIRED');
  });
});

describe('storage', () => {
  // Each Durable Object the dev server instantiated is one SQLite file under its state (PERSIST_TO), created by the
  // runtime itself, holding only the runtime's table (`__miniflare_do_name`) until the cart creates its own.
  const dir = () => join(process.env.PERSIST_TO ?? '.wrangler/state', 'v3', 'do', 'edge-cart-CartObject');
  const objectFiles = () => (existsSync(dir()) ? readdirSync(dir()).filter((f) => f.endsWith('.sqlite') && f !== 'metadata.sqlite') : []);
  const cartTables = (file) => {
    const db = new DatabaseSync(join(dir(), file), { readOnly: true });
    try {
      return db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all().map((r) => r.name)
        .filter((name) => !name.startsWith('__miniflare') && !name.startsWith('_cf_'));
    } finally {
      db.close();
    }
  };

  test('reads create nothing: a never-written cart has no tables after GETs, sync reads and a merge of it', async () => {
    assert.ok(process.env.PERSIST_TO, 'run under scripts/with-dev-server.sh, which sets PERSIST_TO');
    const user = newUserId();
    // The user's cart exists first: the merge writes it, and only it.
    assert.equal((await call('POST', '/v1/me/cart/lines', { json: { sku: 'MINE', qty: 1 }, token: tokenFor(user) })).status, 200);
    const before = new Set(objectFiles());
    const id = newCartId();
    for (let i = 0; i < 5; i++) {
      assert.equal((await call('GET', cart(id))).status, 200);
      assert.equal((await call('GET', cart(id), { headers: { 'if-none-match': '"x"' } })).status, 200);
    }
    const { doc } = await httpSync(`${cart(id)}/sync`, A.init());
    assert.equal(A.getHeads(doc).length, 1, 'the sync read brought the empty cart');
    const merged = await call('POST', '/v1/me/cart/merge', { json: { guestCartId: id }, token: tokenFor(user) });
    assert.equal(merged.status, 200);
    const created = objectFiles().filter((f) => !before.has(f));
    assert.equal(created.length, 1, 'the runtime made one file for the object it instantiated');
    assert.deepEqual(cartTables(created[0]), [], 'and the cart created nothing in it');
    // The check can fail: a write creates the cart's tables in that file.
    assert.equal((await call('POST', `${cart(id)}/lines`, { json: { sku: 'NOW', qty: 1 } })).status, 200);
    assert.deepEqual(cartTables(created[0]).sort(), ['changes', 'checkouts', 'idempotency', 'meta', 'snapshot', 'sqlite_sequence']);
  });
});

describe('GET /v1/catalog', () => {
  test('the listing is reused by the isolate for 30 s and says so, while cart views are priced from fresh reads', async () => {
    const first = await call('GET', '/v1/catalog');
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('cache-control'), 'public, max-age=30');
    const sku = `LIST-${newCartId().slice(0, 8)}`;
    putProducts([{ sku, name: 'Fresh product', price: 321 }]);
    const second = await call('GET', '/v1/catalog');
    assert.deepEqual(second.body, first.body, 'the listing came from the isolate, not from KV again');
    const id = newCartId();
    const added = await add(id, { sku, qty: 1 });
    assert.equal(added.body.lines[0].unitPrice, 321, 'a cart view reads the catalog itself');
  });
});
