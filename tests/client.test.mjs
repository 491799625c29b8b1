// The browser library (the npm package built by `make client`) under Node 22 with a real localStorage
// (--experimental-webstorage), against the real worker: persistence, errors, corrupt and full storage, two
// devices with offline edits, login merge, logout, and the HTTP transport. Cross-tab events need a browser.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { base, call, countRequests, newUserId, sign, tokenFor } from './support/cart.mjs';
import { initSync, CartClient } from '../client-wasm/pkg/cart_client.js';

before(() => {
  initSync({ module: readFileSync(new URL('../client-wasm/pkg/cart_client_bg.wasm', import.meta.url)) });
  assert.ok(globalThis.localStorage, 'run with --experimental-webstorage --localstorage-file=...');
});

let n = 0;
const prefix = () => `t${process.pid}-${n++}`;
const qtys = (view) => Object.fromEntries(view.lines.map((l) => [l.sku, l.qty]));
const until = async (predicate, ms = 10_000) => {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
};
const devToken = async (userId) => (await call('POST', '/v1/dev/token', { json: { userId } })).body.token;
const newUser = () => `u-${process.pid}-${n++}-${Math.random().toString(36).slice(2, 8)}`;

test('a guest cart survives re-creating the client, with the same id', () => {
  const key = prefix();
  const first = new CartClient(base, { storageKey: key, autoConnect: false });
  first.add('MUG', 2);
  const { cartId } = first.view();
  assert.match(cartId, /^[A-Za-z0-9_-]{22}$/);
  first.free();
  const again = new CartClient(base, { storageKey: key, autoConnect: false });
  assert.equal(again.view().cartId, cartId);
  assert.deepEqual(qtys(again.view()), { MUG: 2 });
  again.free();
});

test('errors are real Error objects named CartError with a stable code', () => {
  const cart = new CartClient(base, { storageKey: prefix(), autoConnect: false });
  const cases = [
    [() => cart.add('no spaces'), 'INVALID_SKU'],
    [() => cart.add('A', 0), 'INVALID_QUANTITY'],
    [() => cart.setSelected('ABSENT', false), 'LINE_NOT_FOUND'],
    [() => cart.login('not-a-token'), 'INVALID_TOKEN'],
  ];
  for (const [f, code] of cases) {
    assert.throws(f, (e) => e instanceof Error && e.name === 'CartError' && e.code === code && typeof e.stack === 'string');
  }
  cart.add('A', 999);
  assert.throws(() => cart.add('A', 1), (e) => e.code === 'QUANTITY_LIMIT');
  assert.deepEqual(qtys(cart.view()), { A: 999 }, 'failed edits change nothing');
  cart.free();
});

test('add and setQuantity refuse a quantity that is not a whole number, as batch does, and never round it', () => {
  const cart = new CartClient(base, { storageKey: prefix(), autoConnect: false });
  cart.add('A', 2);
  for (const qty of [1.5, -1, 2 ** 32 + 1, Number.NaN, Infinity, '2', true]) {
    assert.throws(() => cart.add('A', qty), (e) => e.code === 'INVALID_QUANTITY', `add ${String(qty)}`);
    assert.throws(() => cart.setQuantity('A', qty), (e) => e.code === 'INVALID_QUANTITY', `setQuantity ${String(qty)}`);
    assert.throws(() => cart.batch([{ op: 'add', sku: 'A', qty }]), (e) => e.code === 'INVALID_QUANTITY', `batch ${String(qty)}`);
  }
  assert.throws(() => cart.setQuantity('A'), (e) => e.code === 'INVALID_QUANTITY', 'setQuantity needs a quantity');
  assert.deepEqual(qtys(cart.view()), { A: 2 }, 'nothing was applied');
  cart.add('A');
  cart.add('A', null);
  cart.setQuantity('B', 3);
  assert.deepEqual(qtys(cart.view()), { A: 4, B: 3 }, 'a left-out (or null) add quantity is 1');
  cart.free();
});

test('every edit notifies subscribers with the new view, and unsubscribing stops it', () => {
  const cart = new CartClient(base, { storageKey: prefix(), autoConnect: false });
  const seen = [];
  const stop = cart.subscribe((view) => seen.push(view.itemCount));
  cart.add('A', 1);
  cart.add('A', 2);
  stop();
  cart.add('A', 1);
  assert.deepEqual(seen, [1, 3]);
  cart.free();
});

test('a corrupt session is reported, kept aside, and a clean guest cart starts', async () => {
  const key = prefix();
  localStorage.setItem(`${key}:session`, '{this is not json');
  const cart = new CartClient(base, { storageKey: key, autoConnect: false });
  const errors = [];
  cart.addEventListener('error', (e) => errors.push(e.detail.code));
  await until(() => errors.length > 0);
  assert.deepEqual(errors, ['STORAGE_CORRUPT']);
  const kept = Object.keys(localStorage).filter((k) => k.startsWith(`${key}:corrupt:session:`));
  assert.equal(kept.length, 1);
  assert.equal(localStorage.getItem(kept[0]), '{this is not json');
  cart.add('WORKS', 1);
  assert.equal(cart.view().lineCount, 1);
  cart.free();
});

test('a corrupt stored cart is kept aside and recovered from the server', async () => {
  const key = prefix();
  const online = new CartClient(base, { storageKey: key });
  online.add('SAFE', 3);
  assert.equal(await online.flush(), true);
  const { cartId } = online.view();
  online.free();
  localStorage.setItem(`${key}:doc:guest:${cartId}`, 'AAAAAAAA'); // valid base64, not a cart
  const cart = new CartClient(base, { storageKey: key });
  const errors = [];
  cart.addEventListener('error', (e) => errors.push(e.detail.code));
  await until(() => cart.view().lineCount === 1);
  assert.deepEqual(qtys(cart.view()), { SAFE: 3 });
  assert.equal(cart.view().cartId, cartId);
  assert.ok(errors.includes('STORAGE_CORRUPT'));
  cart.free();
});

test('a full LocalStorage is reported and the cart keeps working in memory', async () => {
  const cart = new CartClient(base, { storageKey: prefix(), autoConnect: false });
  const errors = [];
  cart.addEventListener('error', (e) => errors.push(e.detail.code));
  // Fill LocalStorage to the last few bytes, in ever smaller pieces.
  const filler = [];
  for (let size = 1024 * 1024; size >= 8; size = Math.floor(size / 4)) {
    const chunk = 'x'.repeat(size);
    for (;;) {
      const key = `filler-${process.pid}-${filler.length}`;
      try {
        localStorage.setItem(key, chunk);
        filler.push(key);
      } catch {
        break;
      }
      assert.ok(filler.length < 10_000, 'LocalStorage never ran out of room');
    }
  }
  try {
    cart.add('BIG-DAY', 1);
    await until(() => errors.includes('STORAGE_FULL'));
    assert.equal(cart.view().persisted, false);
    assert.deepEqual(qtys(cart.view()), { 'BIG-DAY': 1 });
  } finally {
    filler.forEach((k) => localStorage.removeItem(k));
  }
  cart.add('BIG-DAY', 1);
  assert.equal(cart.view().persisted, true, 'writes succeed again once there is room');
  cart.free();
});

test('two devices of one user, one offline, both edit and converge without losing an add', async () => {
  const token = await devToken(newUser());
  const phone = new CartClient(base, { storageKey: prefix() });
  const laptop = new CartClient(base, { storageKey: prefix() });
  phone.login(token);
  laptop.login(token);
  phone.add('SHARED', 1);
  assert.equal(await phone.flush(), true);
  await until(() => laptop.view().lines.length === 1);
  phone.disconnect();
  phone.add('SHARED', 2);
  phone.add('PHONE-ONLY', 1);
  laptop.add('SHARED', 4);
  laptop.remove('SHARED'); // removes what the laptop saw: 1 + 4, not the phone's offline 2
  assert.equal(phone.view().status, 'offline');
  assert.ok(phone.view().pending > 0);
  phone.connect();
  assert.equal(await phone.flush(), true);
  assert.equal(await laptop.flush(), true);
  await until(() => phone.view().version === laptop.view().version);
  assert.deepEqual(qtys(phone.view()), { SHARED: 2, 'PHONE-ONLY': 1 });
  assert.deepEqual(qtys(laptop.view()), qtys(phone.view()));
  const server = await call('GET', '/v1/me/cart', { token });
  assert.deepEqual(qtys(server.body), qtys(phone.view()));
  phone.free();
  laptop.free();
});

test('login while offline merges the guest cart, and the merge reaches the server on reconnect', async () => {
  const userId = newUser();
  const token = await devToken(userId);
  await call('POST', '/v1/me/cart/lines', { json: { sku: 'ALREADY', qty: 5 }, token });
  const cart = new CartClient(base, { storageKey: prefix() });
  cart.add('ALREADY', 2);
  cart.disconnect();
  cart.add('OFFLINE', 1);
  const report = cart.login(token, 'max');
  assert.deepEqual(report.added.sort(), ['ALREADY', 'OFFLINE']); // the server's copy is not here yet
  assert.equal(cart.view().userId, userId);
  cart.connect();
  assert.equal(await cart.flush(), true);
  await until(() => cart.view().lines.some((l) => l.sku === 'ALREADY' && l.qty === 5));
  const server = (await call('GET', '/v1/me/cart', { token })).body;
  // max(5 on the server, 2 from the guest) = 5: the guest's contribution never doubles the user's line.
  assert.deepEqual(qtys(server), { ALREADY: 5, OFFLINE: 1 });
  assert.equal(cart.login(token).alreadyMerged, true, 'logging in again merges nothing twice');
  cart.free();
});

test('a guest state merged by the browser offline and by the shop on the server counts once, and a line removed after stays removed', async () => {
  const token = await devToken(newUser());
  const cart = new CartClient(base, { storageKey: prefix() });
  cart.add('MUG', 2);
  assert.equal(await cart.flush(), true); // the guest cart, as the server holds it
  const { cartId } = cart.view();
  cart.disconnect();
  cart.login(token, 'max'); // offline: the browser's merge
  const merged = await call('POST', '/v1/me/cart/merge', { json: { guestCartId: cartId }, token }); // the shop's
  assert.equal(merged.status, 200);
  assert.deepEqual(qtys(merged.body.cart), { MUG: 2 });
  cart.remove('MUG');
  cart.connect();
  assert.equal(await cart.flush(), true);
  const server = (await call('GET', '/v1/me/cart', { token })).body;
  assert.deepEqual(qtys(server), {}, 'rule 4: the server\'s copy of the same merge does not bring MUG back');
  assert.deepEqual(qtys(cart.view()), {});
  cart.free();
});

test('sum policy adds the guest quantities; merging the same guest state twice counts once', async () => {
  const token = await devToken(newUser());
  const key = prefix();
  const tab1 = new CartClient(base, { storageKey: key, autoConnect: false });
  tab1.add('SOCKS', 2);
  const tab2 = new CartClient(base, { storageKey: key, autoConnect: false }); // same browser: same guest state
  tab1.login(token, 'sum');
  tab2.login(token, 'sum');
  tab1.connect();
  tab2.connect();
  assert.equal(await tab1.flush(), true);
  assert.equal(await tab2.flush(), true);
  const server = (await call('GET', '/v1/me/cart', { token })).body;
  assert.deepEqual(qtys(server), { SOCKS: 2 });
  tab1.free();
  tab2.free();
});

test('logout flushes, removes the user cart from this browser and starts a fresh guest cart', async () => {
  const userId = newUser();
  const token = await devToken(userId);
  const key = prefix();
  const cart = new CartClient(base, { storageKey: key });
  const guestId = cart.view().cartId;
  cart.login(token);
  cart.add('KEEP', 1);
  assert.equal(await cart.logout(), true);
  const view = cart.view();
  assert.equal(view.userId, undefined, 'signed out');
  assert.notEqual(view.cartId, guestId);
  assert.equal(view.lineCount, 0);
  assert.deepEqual(Object.keys(localStorage).filter((k) => k.startsWith(key) && k.includes(userId)), []);
  const server = (await call('GET', '/v1/me/cart', { token })).body;
  assert.deepEqual(qtys(server), { KEEP: 1 }, 'the change reached the server before the cart left');
  cart.free();
});

test('logout while offline keeps the pending changes aside and brings them back at the next login', async () => {
  const userId = newUser();
  const token = await devToken(userId);
  const key = prefix();
  const cart = new CartClient(base, { storageKey: key });
  cart.login(token);
  assert.equal(await cart.flush(), true);
  cart.disconnect();
  cart.add('UNSENT', 1);
  assert.equal(await cart.logout(200), false);
  assert.ok(localStorage.getItem(`${key}:pending:user:${userId}`));
  cart.login(token);
  assert.deepEqual(qtys(cart.view()), { UNSENT: 1 });
  cart.connect();
  assert.equal(await cart.flush(), true);
  assert.deepEqual(qtys((await call('GET', '/v1/me/cart', { token })).body), { UNSENT: 1 });
  cart.free();
});

test('the HTTP transport syncs where WebSockets are not used', async () => {
  const cart = new CartClient(base, { storageKey: prefix(), transport: 'http' });
  cart.add('VIA-HTTP', 2);
  assert.equal(await cart.flush(), true);
  const server = (await call('GET', `/v1/carts/${cart.view().cartId}`)).body;
  assert.deepEqual(qtys(server), { 'VIA-HTTP': 2 });
  await call('POST', `/v1/carts/${cart.view().cartId}/lines`, { json: { sku: 'FROM-SERVER', qty: 1 } });
  cart.disconnect();
  cart.connect();
  await until(() => cart.view().lines.length === 2);
  cart.free();
});

test('the HTTP transport of a signed-in user sends the token in a header, never in a URL', async () => {
  const user = newUserId('header');
  const urls = [];
  const original = globalThis.fetch;
  globalThis.fetch = (url, init) => {
    urls.push([String(url), init?.headers?.authorization ?? null]);
    return original(url, init);
  };
  const cart = new CartClient(base, { storageKey: prefix(), transport: 'http', autoConnect: false });
  try {
    cart.login(tokenFor(user));
    cart.add('HEADER', 1);
    cart.connect();
    assert.equal(await cart.flush(), true);
  } finally {
    globalThis.fetch = original;
    cart.free();
  }
  const syncs = urls.filter(([url]) => url.includes('/v1/me/cart/sync'));
  assert.ok(syncs.length > 0, 'the library synced over HTTP');
  for (const [url, authorization] of syncs) {
    assert.ok(!url.includes('access_token'), `no token in ${url}`);
    assert.match(authorization, /^Bearer /);
  }
});

test('a stored cart of a newer layout is shown read-only: edits throw UPGRADE_REQUIRED, an error event says so, nothing syncs', async () => {
  const A = await import('@automerge/automerge');
  const key = prefix();
  const first = new CartClient(base, { storageKey: key, autoConnect: false });
  first.add('MUG', 2);
  const { cartId } = first.view();
  first.free();
  // The same cart as a later release of the library would have stored it: its layout register raised.
  const storedKey = `${key}:doc:guest:${cartId}`;
  const doc = A.change(A.load(Buffer.from(localStorage.getItem(storedKey), 'base64')), (d) => { d.layout = 4; }); // one above today's layout (3)
  localStorage.setItem(storedKey, Buffer.from(A.save(doc)).toString('base64'));
  const cart = new CartClient(base, { storageKey: key });
  const errors = [];
  cart.addEventListener('error', (e) => errors.push(e.detail.code));
  await until(() => errors.length > 0);
  assert.deepEqual(errors, ['UPGRADE_REQUIRED']);
  const view = cart.view();
  assert.equal(view.upgradeRequired, true);
  assert.deepEqual(qtys(view), { MUG: 2 }, 'what this library knows still reads');
  assert.throws(() => cart.add('MUG', 1), (e) => e.code === 'UPGRADE_REQUIRED');
  assert.throws(() => cart.remove('MUG'), (e) => e.code === 'UPGRADE_REQUIRED');
  assert.equal(view.status, 'offline');
  // Nothing reached the server: it never saw the cart.
  assert.equal((await call('GET', `/v1/carts/${cartId}`)).body.lineCount, 0);
  cart.free();
});

test('an increment a newer release stored in another tab is left in LocalStorage and the cart is shown read-only', async () => {
  const A = await import('@automerge/automerge');
  // Whatever order storage lists the keys in: the newer edit's name sorts before, then after, the edit it builds on.
  for (const newerName of ['a-newer', 'z-newer']) {
    const key = prefix();
    const first = new CartClient(base, { storageKey: key, autoConnect: false });
    first.add('MUG', 2);
    const { cartId } = first.view();
    first.free();
    const incPrefix = `${key}:inc:guest:${cartId}:`;
    const stored = (k) => Buffer.from(localStorage.getItem(k), 'base64');
    let doc = A.load(stored(`${key}:doc:guest:${cartId}`));
    const keys = Array.from({ length: localStorage.length }, (_, i) => localStorage.key(i)).filter((k) => k.startsWith(incPrefix));
    for (const k of keys) {
      doc = A.loadIncremental(doc, stored(k));
      // The edit it builds on, under a name that sorts between the two the newer edit takes.
      localStorage.setItem(`${incPrefix}m-mug`, localStorage.getItem(k));
      localStorage.removeItem(k);
    }
    // A newer release's edit on top, stored the way this release stores edits: one increment key.
    doc = A.change(doc, (d) => { d.layout = new A.Uint(4); }); // as the core writes it: an unsigned int
    const newer = `${incPrefix}${newerName}`;
    localStorage.setItem(newer, Buffer.from(A.getLastLocalChange(doc)).toString('base64'));
    const cart = new CartClient(base, { storageKey: key, autoConnect: false });
    const errors = [];
    cart.addEventListener('error', (e) => errors.push(e.detail.code));
    await until(() => errors.length > 0);
    assert.deepEqual(errors, ['UPGRADE_REQUIRED'], 'not STORAGE_CORRUPT: the newer edit is not damage');
    assert.equal(cart.view().upgradeRequired, true);
    assert.deepEqual(qtys(cart.view()), { MUG: 2 }, newerName);
    assert.throws(() => cart.add('MUG', 1), (e) => e.code === 'UPGRADE_REQUIRED');
    assert.ok(localStorage.getItem(newer), 'the newer release finds its edit where it left it');
    const keptAside = Array.from({ length: localStorage.length }, (_, i) => localStorage.key(i)).filter((k) => k.startsWith(`${key}:corrupt:`));
    assert.deepEqual(keptAside, []);
    cart.free();
  }
});

test('checkout retries a failed connection twice with the same key, then gives up with NETWORK_ERROR', async () => {
  const cart = new CartClient('http://127.0.0.1:9', { storageKey: prefix(), transport: 'none' });
  const counting = countRequests();
  const started = Date.now();
  await assert.rejects(cart.checkout({ idempotencyKey: 'k-unreachable' }), (e) => e.code === 'NETWORK_ERROR');
  assert.equal(counting.stop(), 3, 'three attempts');
  assert.ok(Date.now() - started >= 700, 'waiting 250 ms, then 500 ms, between them');
  cart.free();
});

test('the library asks the server for prices, checks out once per idempotency key and makes share links', async () => {
  const key = prefix();
  const cart = new CartClient(base, { storageKey: key });
  cart.add('TEA-SENCHA', 2);
  cart.add('NOT-IN-CATALOG', 1);
  const priced = await cart.priced();
  const tea = priced.lines.find((l) => l.sku === 'TEA-SENCHA');
  assert.deepEqual([tea.name, tea.unitPrice, tea.lineTotal, tea.available], ['Sencha green tea, 100 g', 1290, 2580, true]);
  assert.deepEqual(priced.lines.find((l) => l.sku === 'NOT-IN-CATALOG').available, false);
  assert.equal(priced.totals.subtotal, 2580);
  // A price the shopper did not see refuses the checkout, with today's price.
  await assert.rejects(cart.checkout({ seenPrices: { 'TEA-SENCHA': 999 } }), (e) => e.code === 'PRICE_CHANGED' && e.status === 409
    && e.lines.some((l) => l.sku === 'TEA-SENCHA' && l.unitPrice === 1290));
  const idempotencyKey = `k-${key}`;
  const order = await cart.checkout({ idempotencyKey, seenPrices: { 'TEA-SENCHA': 1290 } });
  assert.match(order.id, /^co_/);
  assert.equal(order.subtotal, 2580);
  const again = await cart.checkout({ idempotencyKey, seenPrices: { 'TEA-SENCHA': 1290 } });
  assert.equal(again.id, order.id, 'the same key answers the same snapshot');
  const link = await cart.share();
  const shared = await call('GET', link.path);
  assert.equal(shared.status, 200);
  assert.deepEqual(shared.body.lines.map((l) => l.sku).sort(), ['NOT-IN-CATALOG', 'TEA-SENCHA']);
  cart.free();
  // Offline, nothing is asked of the server: the edits have not reached it.
  const offline = new CartClient(base, { storageKey: prefix(), transport: 'none' });
  offline.add('TEA-SENCHA', 1);
  const started = Date.now();
  await assert.rejects(offline.priced(200), (e) => e.code === 'NOT_SYNCED');
  assert.ok(Date.now() - started < 2000);
  offline.free();
});

for (const transport of ['websocket', 'http']) {
  test(`over ${transport}, a refused token raises one error event with the server's code, and setToken resumes the session`, async () => {
    const user = newUserId(`refresh-${transport}`);
    const expired = sign({ sub: user, exp: Math.floor(Date.now() / 1000) - 3600 });
    const cart = new CartClient(base, { storageKey: prefix(), transport, autoConnect: false });
    const errors = [];
    cart.addEventListener('error', (e) => errors.push(e.detail));
    try {
      cart.login(expired);
      cart.add('KEPT', 2);
      cart.connect();
      await until(() => errors.length > 0);
      assert.equal(errors[0].code, 'TOKEN_EXPIRED');
      assert.ok(errors[0] instanceof Error);
      assert.equal(cart.view().status, 'offline');
      assert.equal(cart.view().pending > 0, true, 'the edit waits');
      // Nothing more is tried with the refused token: no request, no socket, for longer than the first backoff.
      const requests = countRequests();
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(requests.stop(), 0);
      assert.equal(errors.length, 1);
      assert.throws(() => cart.setToken(tokenFor(newUserId('someone-else'))), { code: 'WRONG_USER' });
      const fresh = tokenFor(user);
      cart.setToken(fresh);
      assert.equal(cart.token, fresh);
      assert.equal(await cart.flush(), true);
      const server = await call('GET', '/v1/me/cart', { token: tokenFor(user) });
      assert.deepEqual(qtys(server.body), { KEPT: 2 });
      assert.equal(errors.length, 1);
    } finally {
      cart.free();
    }
  });
}

test('setToken on a guest session throws NOT_SIGNED_IN', () => {
  const cart = new CartClient(base, { storageKey: prefix(), autoConnect: false });
  try {
    assert.throws(() => cart.setToken(tokenFor(newUserId())), { code: 'NOT_SIGNED_IN' });
  } finally {
    cart.free();
  }
});

test('after a refused token, logout starts a guest cart that syncs', async () => {
  const expired = sign({ sub: newUserId('gone'), exp: Math.floor(Date.now() / 1000) - 3600 });
  const cart = new CartClient(base, { storageKey: prefix(), transport: 'http', autoConnect: false });
  const errors = [];
  cart.addEventListener('error', (e) => errors.push(e.detail));
  try {
    cart.login(expired);
    cart.connect();
    await until(() => errors.length > 0);
    assert.equal(errors[0].code, 'TOKEN_EXPIRED');
    await cart.logout(200);
    cart.add('GUEST-AFTER', 1);
    assert.equal(await cart.flush(), true, 'the guest cart reached the server');
    const server = await call('GET', `/v1/carts/${cart.view().cartId}`);
    assert.deepEqual(qtys(server.body), { 'GUEST-AFTER': 1 });
  } finally {
    cart.free();
  }
});

test('batch applies many operations as one change that syncs, and a refused batch throws with its index and changes nothing', async () => {
  const cart = new CartClient(base, { storageKey: prefix(), transport: 'http', autoConnect: false });
  const changes = [];
  cart.addEventListener('change', () => changes.push(cart.view().itemCount));
  try {
    cart.batch([
      { op: 'add', sku: 'MUG', qty: 2 },
      { op: 'add', sku: 'TEA' },
      { op: 'set', sku: 'MUG', qty: 4 },
      { op: 'select', sku: 'TEA', selected: false },
    ]);
    assert.deepEqual(changes, [5], 'one change event for the batch');
    assert.deepEqual(qtys(cart.view()), { MUG: 4, TEA: 1 });
    const before = cart.view();
    assert.throws(
      () => cart.batch([{ op: 'remove', sku: 'MUG' }, { op: 'add', sku: 'TEA', qty: 999 }]),
      (e) => e instanceof Error && e.code === 'QUANTITY_LIMIT' && e.index === 1,
    );
    assert.throws(() => cart.batch([{ op: 'clear' }, { op: 'explode' }]), (e) => e.code === 'INVALID_BODY' && e.index === 1);
    assert.throws(() => cart.batch('not an array'), (e) => e.code === 'INVALID_BODY');
    assert.deepEqual(cart.view(), before, 'nothing changed');
    cart.selectAll(false);
    assert.ok(cart.view().lines.every((l) => !l.selected));
    cart.connect();
    assert.equal(await cart.flush(), true);
    const server = await call('GET', `/v1/carts/${cart.view().cartId}`);
    assert.deepEqual(qtys(server.body), { MUG: 4, TEA: 1 });
    assert.ok(server.body.lines.every((l) => !l.selected));
  } finally {
    cart.free();
  }
});
