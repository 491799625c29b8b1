// The storefront before its wasm arrives, in Debian's Chromium against the real workerd: the first-paint layer
// (@edge-cart/client/boot) shows the stored cart and takes adds at once, and the library applies them when it
// arrives, once, whether it arrives on this page or on the next one. The wasm is held back with Playwright's request
// routing; everything else is served as usual. And the caching: a repeat visit asks for the HTML alone.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { base, call } from '../support/cart.mjs';
import { launch } from '../support/browser.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** Holds every wasm request of `context` until `release()`; `block()` refuses them instead. (Routing requests
 * turns the context's HTTP cache off.) */
async function holdWasm(context) {
  let release;
  const released = new Promise((resolve) => { release = resolve; });
  let refuse = false;
  await context.route('**/*.wasm', async (route) => {
    if (refuse) return route.abort();
    await released;
    await route.continue();
  });
  return { release, block: () => { refuse = true; }, allow: () => { refuse = false; release(); } };
}

/** A page of the storefront once it says it works (its first paint), not waiting for the library. */
async function firstPaint(context) {
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(e.message));
  await page.goto(base);
  await page.waitForSelector('body[data-ready="true"]');
  return page;
}

const shown = (page) => page.$$eval('#lines li', (els) => els.map((e) => [e.dataset.sku, Number(e.dataset.qty)]).sort());
const library = (page) => page.evaluate(() => document.body.dataset.library);

async function serverLines(page) {
  const cartId = await page.evaluate(() => globalThis.edgeCart.view().cartId);
  const { status, body } = await call('GET', `/v1/carts/${cartId}`);
  assert.equal(status, 200);
  return body.lines.map((l) => [l.sku, l.qty]).sort();
}

test('in Chromium, the Add button works and shows the line before the wasm has arrived, and the library then syncs it once', async () => {
  const context = await browser.newContext();
  try {
    const wasm = await holdWasm(context);
    const page = await firstPaint(context);
    assert.equal(await library(page), 'loading', 'the wasm is still held back');
    await page.locator('li.product[data-sku="TEA-SENCHA"] button').click();
    await page.locator('li.product[data-sku="TEA-SENCHA"] button').click();
    await page.locator('li.product[data-sku="MUG-STONE"] button').click();
    assert.deepEqual(await shown(page), [['MUG-STONE', 1], ['TEA-SENCHA', 2]], 'shown at once');
    assert.equal(await page.locator('#status').getAttribute('data-pending'), '3');
    wasm.release();
    await page.waitForSelector('body[data-library="ready"]');
    assert.equal(await page.evaluate(() => globalThis.edgeCart.flush(15_000)), true);
    assert.deepEqual(await serverLines(page), [['MUG-STONE', 1], ['TEA-SENCHA', 2]]);
    assert.deepEqual(await shown(page), [['MUG-STONE', 1], ['TEA-SENCHA', 2]]);
    assert.deepEqual(page.problems, []);
  } finally {
    await context.close();
  }
});

test('in Chromium, adds made on a page left before its wasm arrived reach the cart once, on the next page', async () => {
  const context = await browser.newContext();
  try {
    const wasm = await holdWasm(context);
    wasm.block();
    // A first visit whose library never loads: the cart is new, the adds are recorded.
    const first = await firstPaint(context);
    await first.locator('li.product[data-sku="POT-CAST"] button').click();
    await first.locator('li.product[data-sku="POT-CAST"] button').click();
    assert.deepEqual(await shown(first), [['POT-CAST', 2]]);
    await first.close({ runBeforeUnload: true });
    wasm.allow();
    const second = await firstPaint(context);
    await second.waitForSelector('body[data-library="ready"]');
    assert.deepEqual(await shown(second), [['POT-CAST', 2]], 'the left page\'s adds, applied by this one');
    assert.equal(await second.evaluate(() => globalThis.edgeCart.flush(15_000)), true);
    assert.deepEqual(await serverLines(second), [['POT-CAST', 2]]);
    await second.reload();
    await second.waitForSelector('body[data-library="ready"]');
    assert.deepEqual(await shown(second), [['POT-CAST', 2]], 'applied once, not again on a reload');
    assert.equal(await second.evaluate(() => Object.keys(localStorage).filter((k) => k.includes(':boot:')).length), 0);
  } finally {
    await context.close();
  }
});

test('in Chromium, a reload shows the stored cart at first paint, before the wasm arrives', async () => {
  const context = await browser.newContext();
  try {
    const page = await firstPaint(context);
    await page.waitForSelector('body[data-library="ready"]');
    await page.locator('li.product[data-sku="TEA-EARL"] button').click();
    assert.equal(await page.evaluate(() => globalThis.edgeCart.flush(15_000)), true);
    // The view is stored at idle and when the page is hidden; a navigation hides it.
    const wasm = await holdWasm(context);
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    assert.deepEqual(await shown(page), [['TEA-EARL', 1]], 'the stored view, shown before the wasm');
    assert.equal(await library(page), 'loading');
    wasm.release();
    await page.waitForSelector('body[data-library="ready"]');
    assert.deepEqual(await shown(page), [['TEA-EARL', 1]]);
  } finally {
    await context.close();
  }
});

test('in Chromium, a repeat visit asks the network for the HTML alone: the script, stylesheet and wasm come from the cache', async () => {
  const context = await browser.newContext();
  try {
    const first = await firstPaint(context);
    await first.waitForSelector('body[data-library="ready"]');
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    const fromNetwork = [];
    const fromCache = [];
    cdp.on('Network.responseReceived', ({ response }) => {
      const path = new URL(response.url).pathname;
      (response.fromDiskCache || response.fromMemoryCache ? fromCache : fromNetwork).push(path);
    });
    await page.goto(base);
    await page.waitForSelector('body[data-library="ready"]');
    assert.deepEqual(fromNetwork.filter((p) => p.startsWith('/assets/')), [], 'nothing under /assets/ from the network');
    assert.ok(fromCache.some((p) => p.endsWith('.wasm')), `the wasm from the cache (${fromCache})`);
    assert.ok(fromNetwork.includes('/'), `the HTML is revalidated (${fromNetwork})`);
  } finally {
    await context.close();
  }
});
