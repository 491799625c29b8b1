// The shipped build, as `wrangler deploy` bundles it (scripts/test-shipped.sh serves exactly that artifact under
// wrangler dev, with wrangler.toml's production variables and limits): every error code the worker can answer is
// provoked here, or named with the dev-build test that provokes it (codes only a fault hook can reach) or with why
// nothing from outside can; each answer has its status, a coded body and a real message (`call` checks every error
// body: the shipped build once blanked formatted values). Then the dev routes and dev tokens are shown absent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { base, call, checkErrorBody, newCartId, newUserId, sign, tokenFor, secret, upgradeAnswer } from '../support/cart.mjs';
import { httpSync, addEntry, A, withLayout } from '../support/peer.mjs';
import { errorCodes, readRepoFile } from '../support/codes.mjs';
import { createHmac } from 'node:crypto';

const cart = (id) => `/v1/carts/${id}`;
const add = (id, json, headers) => call('POST', `${cart(id)}/lines`, { json, headers });
const aShareToken = 'A'.repeat(43);
const aCheckoutId = `co_${'A'.repeat(22)}`;
const raw = async (method, path, init = {}) => {
  const res = await fetch(`${base}${path}`, { method, ...init });
  const body = await res.json();
  checkErrorBody(res.status, body, `${method} ${path}`);
  return { status: res.status, body };
};
const syncPost = (id, bytes, query = 'layout=3') => raw('POST', `${cart(id)}/sync?${query}`, {
  headers: { 'content-type': 'application/octet-stream' }, body: bytes,
});

/** A checksum-valid change forged from a real one: every op points at an object nobody created. */
async function forgedMessage(id) {
  const { doc } = await httpSync(`${cart(id)}/sync`, A.init());
  const edited = A.change(A.clone(doc), (d) => d.adds.push(addEntry(1, 'EVIL')));
  const decoded = A.decodeChange(A.getLastLocalChange(edited));
  for (const op of decoded.ops) op.obj = `999@${decoded.actor}`;
  const forged = A.encodeChange(decoded);
  return A.encodeSyncMessage({ heads: [A.decodeChange(forged).hash], need: [], have: [], changes: [forged] });
}

/** How each code is provoked from outside; each resolves to `{status, body}`. */
const provoke = {
  NOT_FOUND: [404, () => call('GET', '/v1/no-such-route')],
  METHOD_NOT_ALLOWED: [405, async () => {
    const res = await call('PUT', cart(newCartId()));
    assert.equal(res.body.error.message, 'PUT is not allowed here');
    return res;
  }],
  INVALID_CART_ID: [400, () => call('GET', cart('not!a!cart'))],
  UNSUPPORTED_MEDIA_TYPE: [415, () => call('POST', `${cart(newCartId())}/lines`, { body: 'sku=MUG', headers: { 'content-type': 'text/plain' } })],
  PAYLOAD_TOO_LARGE: [413, () => add(newCartId(), { sku: 'MUG', qty: 1, pad: 'x'.repeat(70_000) })],
  MALFORMED_JSON: [400, () => call('POST', `${cart(newCartId())}/lines`, { body: '{"sku":', headers: { 'content-type': 'application/json' } })],
  INVALID_BODY: [400, () => add(newCartId(), { sku: 'MUG', qty: 1, colour: 'red' })],
  INVALID_SKU: [400, () => add(newCartId(), { sku: 'no spaces', qty: 1 })],
  TOO_MANY_OPS: [400, async () => {
    const res = await call('POST', `${cart(newCartId())}/ops`, { json: { ops: Array.from({ length: 251 }, () => ({ op: 'clear' })) } });
    assert.equal(res.body.error.index, undefined, 'about the whole batch, no operation of it');
    return res;
  }],
  INVALID_QUANTITY: [400, () => add(newCartId(), { sku: 'MUG', qty: 1.5 })],
  QUANTITY_LIMIT: [422, async () => {
    const id = newCartId();
    assert.equal((await add(id, { sku: 'BULK', qty: 999 })).status, 200);
    return add(id, { sku: 'BULK', qty: 1 });
  }],
  CART_FULL: [422, async () => {
    // 120 lines in one change from a standard Automerge peer (one write, not 120 against the rate limit).
    const id = newCartId();
    const { doc } = await httpSync(`${cart(id)}/sync`, A.init());
    const full = A.change(A.clone(doc), (d) => { for (let i = 0; i < 120; i++) d.adds.push(addEntry(1, `SKU-${i}`)); });
    await httpSync(`${cart(id)}/sync`, full);
    assert.equal((await call('GET', cart(id))).body.lineCount, 120);
    return add(id, { sku: 'ONE-MORE', qty: 1 });
  }],
  LINE_NOT_FOUND: [404, () => call('PATCH', `${cart(newCartId())}/lines/MUG`, { json: { selected: false } })],
  EMPTY_PATCH: [400, async () => {
    const id = newCartId();
    await add(id, { sku: 'MUG', qty: 1 });
    return call('PATCH', `${cart(id)}/lines/MUG`, { json: {} });
  }],
  INVALID_IDEMPOTENCY_KEY: [400, () => add(newCartId(), { sku: 'MUG', qty: 1 }, { 'idempotency-key': 'has space' })],
  IDEMPOTENCY_KEY_REUSED: [422, async () => {
    const id = newCartId();
    const key = { 'idempotency-key': 'k-1' };
    assert.equal((await add(id, { sku: 'MUG', qty: 1 }, key)).status, 200);
    const reused = await add(id, { sku: 'MUG', qty: 2 }, key);
    assert.equal((await call('GET', cart(id))).body.itemCount, 1, 'the other request did not apply');
    return reused;
  }],
  MISSING_IDEMPOTENCY_KEY: [400, () => call('POST', `${cart(newCartId())}/checkout`, { json: {} })],
  NOTHING_TO_CHECK_OUT: [422, () => call('POST', `${cart(newCartId())}/checkout`, { json: {}, headers: { 'idempotency-key': 'c-1' } })],
  CHECKOUT_NOT_FOUND: [404, () => call('GET', `${cart(newCartId())}/checkouts/${aCheckoutId}`)],
  NOTHING_TO_SHARE: [422, () => call('POST', `${cart(newCartId())}/share`, { json: {} })],
  SHARE_NOT_FOUND: [404, () => call('GET', `/v1/shared/${aShareToken}`)],
  INVALID_POLICY: [400, () => call('POST', '/v1/me/cart/merge', { json: { guestCartId: newCartId(), policy: 'min' }, token: tokenFor(newUserId()) })],
  MISSING_TOKEN: [401, () => call('GET', '/v1/me/cart')],
  INVALID_TOKEN: [401, () => call('GET', '/v1/me/cart', { token: sign({ sub: 'u', exp: Math.floor(Date.now() / 1000) + 60 }, 'another key of thirty-two bytes!!') })],
  TOKEN_EXPIRED: [401, () => call('GET', '/v1/me/cart', { token: sign({ sub: 'u', exp: Math.floor(Date.now() / 1000) - 60 }) })],
  CORS_ORIGIN_NOT_ALLOWED: [403, () => raw('OPTIONS', cart(newCartId()), {
    headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
  })],
  INVALID_LAYOUT: [400, () => syncPost(newCartId(), new Uint8Array([0x42]), 'layout=two')],
  UPGRADE_REQUIRED: [426, () => syncPost(newCartId(), new Uint8Array([0x42]), 'layout=1')],
  MALFORMED_SYNC_MESSAGE: [400, () => syncPost(newCartId(), new Uint8Array([0x42, 0x00, 0xff]))],
  INVALID_CHANGE: [400, async () => {
    const id = newCartId();
    await add(id, { sku: 'KEEP', qty: 2 });
    const before = (await call('GET', cart(id))).body.version;
    const refused = await syncPost(id, await forgedMessage(id));
    assert.equal((await call('GET', cart(id))).body.version, before, 'the cart is unchanged');
    return refused;
  }],
  TOO_MANY_SOCKETS: [429, async () => {
    const id = newCartId();
    const url = `${base.replace(/^http/, 'ws')}${withLayout(`${cart(id)}/sync`)}`;
    const sockets = Array.from({ length: 32 }, () => new WebSocket(url));
    try {
      await Promise.all(sockets.map((ws) => new Promise((resolve, reject) => {
        ws.addEventListener('open', resolve, { once: true });
        ws.addEventListener('error', reject, { once: true });
      })));
      const refused = await upgradeAnswer(withLayout(`${cart(id)}/sync`));
      checkErrorBody(refused.status, refused.body, 'the 33rd socket');
      return refused;
    } finally {
      for (const ws of sockets) ws.close();
    }
  }],
  // Last: it drains a cart's write bucket (wrangler.toml: a burst of 60) with more writes at once.
  RATE_LIMITED: [429, async () => {
    const id = newCartId();
    const answers = await Promise.all(Array.from({ length: 75 }, () => add(id, { sku: 'MUG', qty: 1 })));
    const limited = answers.find((a) => a.status === 429);
    assert.ok(limited, `some of 75 writes at once were limited: ${answers.map((a) => a.status).join(' ')}`);
    const applied = answers.filter((a) => a.status === 200).length;
    assert.equal((await call('GET', cart(id))).body.itemCount, applied, 'a limited write applied nothing');
    return limited;
  }],
};

/** Codes only the dev build's hooks can reach, with the test (file, name) that provokes each against workerd. */
const provokedInDevBuild = {
  INTERNAL: ['tests/faults.test.mjs', 'INTERNAL'],
  AUTOMERGE_PANIC: ['tests/abuse.test.mjs', 'a forged change that makes Automerge itself panic gets 400 AUTOMERGE_PANIC'],
  AUTH_NOT_CONFIGURED: ['tests/lifecycle.test.mjs', 'a JWT key shorter than 32 bytes is refused with 500 AUTH_NOT_CONFIGURED'],
  AUTH_KEYS_UNAVAILABLE: ['tests/idp.test.mjs', 'a key set that cannot be fetched is a 503 the browser library waits out as told, not a refusal'],
  // A catalog change between a view and a checkout needs the test's own KV writes.
  PRICE_CHANGED: ['tests/catalog.test.mjs', 'checkout reads prices fresh and refuses with 409 PRICE_CHANGED, listing the lines, when they differ from what the shopper saw'],
  INVALID_USER_ID: ['tests/auth.test.mjs', 'the dev token route refuses bad user ids with INVALID_USER_ID'],
};

/** Codes nothing outside can provoke on purpose, and why they exist. */
const unreachable = {
  CART_CHANGED: 'checkout retries 4 times while the cart changes under it; only a race of edits against every attempt gets it',
  SHARE_EXISTS: 'a freshly drawn 256-bit share token naming an existing share',
  SYNC_REJECTED: 'Automerge refusing a message cart-core\'s checks accepted (no such message is known)',
};

// The routes first: the error rows end by draining the write buckets.
test('the shipped worker has no dev routes and refuses tokens signed with the dev key', async () => {
  for (const path of ['/v1/dev/token', `/v1/dev/carts/${newCartId()}/seed`, `/v1/dev/carts/${newCartId()}/fail`, `/v1/dev/carts/${newCartId()}/panic`]) {
    const res = await call('POST', path, { json: {} });
    assert.equal(res.status, 404, path);
    assert.equal(res.body.error.code, 'NOT_FOUND');
  }
  // auth::dev_key: HMAC-SHA256 of the secret over "edge-cart dev tokens".
  const devKey = createHmac('sha256', secret).update('edge-cart dev tokens').digest();
  const devToken = sign({ sub: newUserId(), exp: Math.floor(Date.now() / 1000) + 600 }, devKey);
  const res = await call('GET', '/v1/me/cart', { token: devToken });
  assert.equal(res.status, 401);
  assert.equal(res.body.error.code, 'INVALID_TOKEN');
});

test('the shipped worker serves a shopper end to end: add, a 304 for the same body, sign-in, merge, checkout', async () => {
  const guest = newCartId();
  const added = await add(guest, { sku: 'MUG-STONE', qty: 2 });
  assert.equal(added.status, 200);
  const etag = added.headers.get('etag');
  const again = await fetch(`${base}${cart(guest)}`, { headers: { 'if-none-match': etag } });
  assert.equal(again.status, 304);
  const token = tokenFor(newUserId());
  const merged = await call('POST', '/v1/me/cart/merge', { json: { guestCartId: guest, policy: 'max' }, token });
  assert.equal(merged.status, 200);
  assert.equal(merged.body.cart.lines.find((l) => l.sku === 'MUG-STONE').qty, 2);
  assert.ok(merged.body.cart.totals, 'the merged cart is priced');
  const checkout = await call('POST', '/v1/me/cart/checkout', { json: {}, token, headers: { 'idempotency-key': 'co-1' } });
  assert.equal(checkout.status, 201, JSON.stringify(checkout.body));
  assert.equal(checkout.body.lines[0].sku, 'MUG-STONE');
});

for (const [code, [status, run]] of Object.entries(provoke)) {
  test(`the shipped worker answers ${status} ${code} with a coded body and a real message`, async () => {
    const { status: got, body } = await run();
    assert.equal(got, status, JSON.stringify(body));
    assert.equal(body.error.code, code);
  });
}

test('every error code the sources can answer is provoked from the shipped build, by a named dev-build test, or explained', () => {
  const covered = new Set([...Object.keys(provoke), ...Object.keys(provokedInDevBuild), ...Object.keys(unreachable)]);
  const codes = errorCodes();
  assert.deepEqual([...codes].filter((c) => !covered.has(c)), [], 'codes nobody provokes');
  assert.deepEqual([...covered].filter((c) => !codes.has(c)), [], 'codes the sources no longer answer');
  for (const [code, [file, name]] of Object.entries(provokedInDevBuild)) {
    const text = readRepoFile(file);
    assert.ok(text.includes(name) && text.includes(`'${code}'`), `${file} provokes ${code} ("${name}")`);
  }
});

test('the shipped build serves the storefront but none of the dev builds\' examples or benchmark pages', async () => {
  assert.equal((await fetch(`${base}/`)).status, 200);
  for (const path of ['/examples/react/', '/examples/vue/', '/examples/react/app.js', '/bench/floor.html', '/pkg/cart_client.js']) {
    const res = await fetch(`${base}${path}`);
    await res.arrayBuffer();
    assert.notEqual(res.status, 200, `${path} is not shipped`);
  }
});
