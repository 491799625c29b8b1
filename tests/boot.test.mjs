// The first-paint layer (`@edge-cart/client/boot`, client-wasm/bindings/boot.js) against the real library, under
// Node 22 with a real localStorage: edits made before the library is ready are checked by the rules README states
// for the cart (the same codes as the library), shown at once, recorded, and applied once the library is ready as
// ordinary offline edits, so the cart ends as if they had been made on the library itself. The browser half (a
// page that works before its wasm arrives, a page closed before it did) is tests/e2e/first-paint.test.mjs.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { initSync, CartClient } from '../client-wasm/pkg/cart_client.js';
import { bootCart } from '../client-wasm/pkg/boot.js';

before(() => {
  initSync({ module: readFileSync(new URL('../client-wasm/pkg/cart_client_bg.wasm', import.meta.url)) });
});

let n = 0;
const prefix = () => `boot-${process.pid}-${n++}`;
const OFFLINE = { transport: 'none', autoConnect: false };
const client = (storageKey) => new CartClient('http://127.0.0.1:9', { ...OFFLINE, storageKey });

/** A booted cart whose library arrives when the test says: `arrive()` resolves the loader. */
function booted(storageKey) {
  let arrive;
  const gate = new Promise((resolve) => { arrive = resolve; });
  const cart = bootCart('http://127.0.0.1:9', { ...OFFLINE, storageKey }, {
    load: async (options) => {
      await gate;
      return new CartClient('http://127.0.0.1:9', options);
    },
  });
  return { cart, arrive };
}

const lines = (view) => view.lines.map((l) => [l.sku, l.qty, l.selected]).sort((a, b) => a[0].localeCompare(b[0]));
/** What `f` threw: its code and index (`null` when it threw nothing). */
const codeOf = (f) => {
  try {
    f();
    return null;
  } catch (e) {
    assert.equal(e.name, 'CartError');
    return e.index === undefined ? e.code : `${e.code}@${e.index}`;
  }
};

/** A small deterministic generator (mulberry32), so a failing seed can be replayed. */
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SKUS = ['MUG', 'TEA', 'POT', 'bad sku', ''];
const QTYS = [1, 2, 500, 999, 0, 1000, -1, 1.5, null, '2'];

/** One random call of the cart's edit interface, as [method, args]. */
function randomEdit(next) {
  const pick = (xs) => xs[Math.floor(next() * xs.length)];
  const sku = pick(SKUS);
  const r = next();
  if (r < 0.3) return ['add', [sku, pick(QTYS)]];
  if (r < 0.45) return ['setQuantity', [sku, pick(QTYS)]];
  if (r < 0.55) return ['remove', [sku]];
  if (r < 0.65) return ['setSelected', [sku, next() < 0.5]];
  if (r < 0.72) return ['selectAll', [next() < 0.5]];
  if (r < 0.76) return ['clear', []];
  if (r < 0.82) return ['undo', []];
  if (r < 0.9) {
    // Enough new lines, now and then, to reach the 120-line limit.
    const many = Array.from({ length: Math.floor(next() * 130) }, (_, i) => ({ op: 'add', sku: `BULK-${i}`, qty: 1 }));
    return ['batch', [many.length ? many : [{ op: 'clear' }]]];
  }
  // A batch of any operations, well or badly formed: the library reads them all before it applies any.
  const one = () => pick([
    () => ({ op: 'add', sku: pick(SKUS), qty: pick(QTYS) }),
    () => ({ op: 'add', sku: `NEW-${Math.floor(next() * 3)}` }),
    () => ({ op: 'set', sku: pick(SKUS), qty: pick(QTYS) }),
    () => ({ op: 'remove', sku: pick(SKUS) }),
    () => ({ op: 'remove', sku: 'BULK-0' }),
    () => ({ op: 'select', sku: pick(SKUS), selected: next() < 0.5 }),
    () => ({ op: 'selectAll', selected: next() < 0.5 }),
    () => ({ op: 'clear' }),
    () => pick([{ op: 'remove', sku: 'MUG', qty: 1 }, { op: 'select', sku: 'MUG' }, { op: 'select', sku: 'MUG', selected: 'yes' },
      { op: 'shout' }, { sku: 'MUG' }, { op: 'add', sku: 7 }, null, ['add']]),
  ])();
  return ['batch', [Array.from({ length: 1 + Math.floor(next() * 4) }, one)]];
}

test('edits made before the library is ready end the cart as the same edits made on the library, with the same refusals', async () => {
  for (let seed = 1; seed <= 60; seed++) {
    const next = rng(seed);
    const edits = Array.from({ length: 25 }, () => randomEdit(next));
    const direct = client(prefix());
    const { cart, arrive } = booted(prefix());
    for (const [method, args] of edits) {
      const expected = codeOf(() => direct[method](...args));
      assert.equal(codeOf(() => cart[method](...args)), expected, `seed ${seed}: ${method}(${JSON.stringify(args).slice(0, 80)})`);
      assert.deepEqual(lines(cart.view()), lines(direct.view()), `seed ${seed}: shown at once after ${method}`);
      assert.equal(cart.view().canUndo, direct.view().canUndo, `seed ${seed}: canUndo after ${method}`);
    }
    arrive();
    const library = await cart.ready;
    assert.equal(cart.client, library);
    assert.deepEqual(lines(cart.view()), lines(direct.view()), `seed ${seed}: the library's cart after the recorded edits`);
    cart.free();
    direct.free();
  }
});

test('a recorded edit is applied once: the record is gone when the library has it, and a reload applies nothing again', async () => {
  const key = prefix();
  const { cart, arrive } = booted(key);
  cart.add('MUG', 2);
  cart.add('TEA');
  const records = Object.keys(localStorage).filter((k) => k.startsWith(`${key}:boot:`));
  assert.equal(records.length, 1, 'one record for this page');
  assert.equal(JSON.parse(localStorage.getItem(records[0])).edits.length, 2);
  assert.equal(cart.view().pending, 2, 'recorded edits count as pending');
  arrive();
  await cart.ready;
  assert.equal(localStorage.getItem(records[0]), null, 'the record is removed once applied');
  assert.deepEqual(lines(cart.view()), [['MUG', 2, true], ['TEA', 1, true]]);
  assert.equal(cart.view().pending, 2, 'two edits waiting for the server');
  cart.free();
  const again = client(key);
  assert.deepEqual(lines(again.view()), [['MUG', 2, true], ['TEA', 1, true]], 'the stored cart holds each edit once');
  again.free();
});

test('a page that stopped before its library arrived leaves its edits to the next page, which applies them once', async () => {
  const key = prefix();
  // A page that went away: its record's heartbeat is older than two minutes (a hidden page writes 0 at once).
  localStorage.setItem(`${key}:boot:gone`, JSON.stringify({ t: Date.now() - 3 * 60_000, edits: [{ at: 1, ops: [{ op: 'add', sku: 'POT', qty: 3 }] }] }));
  // A page still loading: its record is fresh and stays its own.
  localStorage.setItem(`${key}:boot:alive`, JSON.stringify({ t: Date.now(), edits: [{ at: 2, ops: [{ op: 'add', sku: 'CUP', qty: 1 }] }] }));
  const { cart, arrive } = booted(key);
  assert.deepEqual(lines(cart.view()), [['CUP', 1, true], ['POT', 3, true]], 'both pages\' edits are shown at first paint');
  assert.equal(cart.view().pending, 2);
  arrive();
  await cart.ready;
  assert.deepEqual(lines(cart.view()), [['POT', 3, true]]);
  assert.equal(localStorage.getItem(`${key}:boot:gone`), null);
  assert.notEqual(localStorage.getItem(`${key}:boot:alive`), null, 'a live page keeps its record');
  cart.free();
  const next = booted(key);
  next.arrive();
  await next.cart.ready;
  assert.deepEqual(lines(next.cart.view()).filter(([sku]) => sku === 'POT'), [['POT', 3, true]], 'not applied twice');
  next.cart.free();
});

test('the first paint shows the view the last page stored, and the library takes over from the stored cart', async () => {
  const key = prefix();
  const first = booted(key);
  first.arrive();
  await first.cart.ready;
  first.cart.add('TEA', 4);
  first.cart.setSelected('TEA', false);
  // The view is stored at idle (here: a timer) and when the page is hidden.
  await new Promise((resolve) => setTimeout(resolve, 400));
  first.cart.free();
  const second = booted(key);
  assert.deepEqual(lines(second.cart.view()), [['TEA', 4, false]], 'shown before the library is ready');
  assert.equal(second.cart.client, null);
  second.cart.add('TEA', 1);
  assert.deepEqual(lines(second.cart.view()), [['TEA', 5, false]]);
  second.arrive();
  await second.cart.ready;
  assert.deepEqual(lines(second.cart.view()), [['TEA', 5, false]]);
  second.cart.free();
});

test('before the library is ready, login throws NOT_READY and the calls that return promises wait for it', async () => {
  const { cart, arrive } = booted(prefix());
  assert.equal(codeOf(() => cart.login('x.y.z')), 'NOT_READY');
  assert.equal(cart.token, undefined);
  assert.equal(await cart.flush(10), false, 'a flush whose timeout passes before the library arrives is false');
  let flushed = null;
  const flush = cart.flush().then((f) => { flushed = f; });
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(flushed, null, 'a flush without a timeout waits for the library');
  arrive();
  await flush;
  assert.equal(flushed, true, 'nothing to send: flushed');
  cart.free();
});

test('change events come from the layer before the library is ready and from the library after, on the same listener', async () => {
  const { cart, arrive } = booted(prefix());
  const seen = [];
  cart.addEventListener('change', (e) => seen.push(e.detail.itemCount));
  cart.add('MUG');
  arrive();
  await cart.ready;
  cart.add('MUG');
  assert.equal(seen[0], 1);
  assert.equal(seen.at(-1), 2);
  assert.equal(cart.view(), cart.client.view(), 'the library\'s frozen view itself once it is ready');
  cart.free();
});

test('a batch made before the library is ready is applied whole: a remove and an add on a full cart both hold', async () => {
  const key = prefix();
  const first = booted(key);
  first.arrive();
  await first.cart.ready;
  first.cart.batch(Array.from({ length: 120 }, (_, i) => ({ op: 'add', sku: `L-${i}` })));
  await new Promise((resolve) => setTimeout(resolve, 400));
  first.cart.free();
  const { cart, arrive } = booted(key);
  assert.equal(cart.view().lineCount, 120);
  assert.equal(codeOf(() => cart.add('NEW')), 'CART_FULL');
  cart.batch([{ op: 'add', sku: 'NEW' }, { op: 'remove', sku: 'L-0' }]);
  arrive();
  await cart.ready;
  const skus = cart.view().lines.map((l) => l.sku);
  assert.equal(skus.length, 120);
  assert.ok(skus.includes('NEW') && !skus.includes('L-0'), 'the batch applied as it was checked');
  cart.free();
});

test('edits of several pages are applied in the order they were made, each once', async () => {
  const key = prefix();
  const old = Date.now() - 3 * 60_000;
  localStorage.setItem(`${key}:boot:late`, JSON.stringify({ t: old, edits: [{ at: 20, ops: [{ op: 'set', sku: 'MUG', qty: 7 }] }] }));
  localStorage.setItem(`${key}:boot:early`, JSON.stringify({ t: old, edits: [{ at: 10, ops: [{ op: 'set', sku: 'MUG', qty: 3 }] }] }));
  // A record left by the first release of this layer (single operations, each with its time) is read too.
  localStorage.setItem(`${key}:boot:first`, JSON.stringify({ t: 0, ops: [{ op: 'add', sku: 'TEA', qty: 2, at: 5 }] }));
  localStorage.setItem(`${key}:boot:broken`, 'not json');
  const { cart, arrive } = booted(key);
  assert.deepEqual(lines(cart.view()), [['MUG', 7, true], ['TEA', 2, true]], 'shown in the order made');
  arrive();
  await cart.ready;
  assert.deepEqual(lines(cart.view()), [['MUG', 7, true], ['TEA', 2, true]], 'the later set wins');
  assert.deepEqual(Object.keys(localStorage).filter((k) => k.startsWith(`${key}:boot:`)), [`${key}:boot:broken`], 'the applied records are gone');
  cart.free();
});

test('a hidden page\'s record is another page\'s at once, and stays so while its heartbeat runs', async (t) => {
  // Node's global object is no EventTarget: lend it one for the page's pagehide.
  const target = new EventTarget();
  for (const name of ['addEventListener', 'removeEventListener', 'dispatchEvent']) globalThis[name] = target[name].bind(target);
  t.after(() => { for (const name of ['addEventListener', 'removeEventListener', 'dispatchEvent']) delete globalThis[name]; });
  const key = prefix();
  const { cart } = booted(key);
  cart.add('MUG', 2);
  const [record] = Object.keys(localStorage).filter((k) => k.startsWith(`${key}:boot:`));
  assert.ok(JSON.parse(localStorage.getItem(record)).t > 0, 'a visible page writes its heartbeat');
  globalThis.dispatchEvent(new Event('pagehide'));
  assert.equal(JSON.parse(localStorage.getItem(record)).t, 0, 'hidden: adoptable at once');
  cart.add('TEA');
  assert.equal(JSON.parse(localStorage.getItem(record)).t, 0, 'a write while hidden keeps it adoptable');
  const next = booted(key);
  next.arrive();
  await next.cart.ready;
  assert.deepEqual(lines(next.cart.view()), [['MUG', 2, true], ['TEA', 1, true]], 'the next page applied them');
  next.cart.free();
  cart.free();
});

test('free() before the library arrives stops loading it: the client it would have made is freed, ready rejects', async () => {
  const key = prefix();
  let made = null;
  let arrive;
  const gate = new Promise((resolve) => { arrive = resolve; });
  const cart = bootCart('http://127.0.0.1:9', { ...OFFLINE, storageKey: key }, {
    load: async (options) => {
      await gate;
      made = new CartClient('http://127.0.0.1:9', options);
      return made;
    },
  });
  cart.add('MUG');
  cart.free();
  arrive();
  await assert.rejects(cart.ready, (e) => e.code === 'FREED');
  assert.equal(cart.client, null);
  assert.throws(() => made.view(), 'the client it made was freed');
  const failing = bootCart('http://127.0.0.1:9', { ...OFFLINE, storageKey: prefix() }, { load: async () => { throw new Error('offline'); } });
  await new Promise((resolve) => setTimeout(resolve, 10));
  failing.free();
  await assert.rejects(failing.ready, (e) => e.code === 'FREED', 'a failing load stops retrying once freed');
});
