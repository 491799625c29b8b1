// The demo storefront end to end: Debian's Chromium (playwright-core) against the real workerd (wrangler dev).
// Each browser context is a separate device with its own LocalStorage. Screenshots of the key states go to
// test-results/screenshots/ (git-ignored) on every run.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { base, call, newUserId, sign, startServer, tokenFor } from '../support/cart.mjs';

// The storefront signs in through the dev token route, whose tokens open carts of their own (`dev:<sub>`): the
// server's copy is read with such a token too.
const devToken = async (userId) => (await call('POST', '/v1/dev/token', { json: { userId } })).body.token;
import { launch, openPage, screenshot } from '../support/browser.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** Polls `check` (which throws or returns false while not yet true) until it passes or `ms` runs out. */
async function until(check, what, ms = 30_000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const result = await check();
      if (result !== false) return result;
      last = new Error('not yet');
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${last?.message}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The cart as the page shows it, sorted by sku. */
async function shownLines(page) {
  const lines = await page.$$eval('#lines li', (els) => els.map((e) => ({
    sku: e.dataset.sku,
    qty: Number(e.querySelector('input[type=number]').value),
    selected: e.querySelector('input[type=checkbox]').checked,
  })));
  return lines.sort((x, y) => x.sku.localeCompare(y.sku));
}

async function status(page) {
  const el = page.locator('#status');
  return { status: await el.getAttribute('data-status'), pending: Number(await el.getAttribute('data-pending')) };
}

/** Waits until the page shows exactly `expected` lines ({sku: qty} or {sku: [qty, selected]}). */
async function untilShown(page, expected, what) {
  const want = Object.entries(expected)
    .map(([sku, v]) => ({ sku, qty: Array.isArray(v) ? v[0] : v, selected: Array.isArray(v) ? v[1] : true }))
    .sort((x, y) => x.sku.localeCompare(y.sku));
  await until(async () => { assert.deepEqual(await shownLines(page), want); }, what);
}

async function untilSynced(page, what) {
  await until(async () => { assert.deepEqual(await status(page), { status: 'online', pending: 0 }); }, what, 60_000);
}

const addToCart = (page, sku) => page.locator(`li.product[data-sku="${sku}"] button`).click();
const line = (page, sku) => page.locator(`#lines li[data-sku="${sku}"]`);
const oneMore = (page, sku) => line(page, sku).getByRole('button', { name: /^One more/ }).click();
const removeLine = (page, sku) => line(page, sku).getByRole('button', { name: /^Remove/ }).click();
const toggleSelected = (page, sku) => line(page, sku).getByRole('checkbox').click();
async function setQuantity(page, sku, qty) {
  const input = line(page, sku).getByRole('spinbutton');
  await input.fill(String(qty));
  await input.blur();
}

async function signIn(page, userId, policy = 'max') {
  await page.getByLabel('Demo user').fill(userId);
  await page.getByLabel('Merge').selectOption(policy);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText(`Signed in as ${userId}`).waitFor();
  return (await page.locator('#notice').textContent()) ?? '';
}

test('two devices of one user edit offline and converge when back online: no add lost, no line resurrected', async () => {
  const user = newUserId('e2e');
  const laptopContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const phoneContext = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
  try {
    const laptop = await openPage(laptopContext, base);
    const phone = await openPage(phoneContext, base);
    await signIn(laptop, user);
    await signIn(phone, user);
    for (const sku of ['TEA-SENCHA', 'TEA-SENCHA', 'MUG-STONE', 'CLOTH-LINEN', 'TIN-WASHI', 'TIN-WASHI']) {
      await addToCart(laptop, sku);
    }
    const seeded = { 'TEA-SENCHA': 2, 'MUG-STONE': 1, 'CLOTH-LINEN': 1, 'TIN-WASHI': 2 };
    await untilShown(phone, seeded, 'the phone to get the laptop\'s adds live');
    await untilSynced(laptop, 'the laptop to sync');
    await screenshot(laptop, '01-laptop-signed-in');

    // The laptop goes offline with the page's switch; the phone loses the network for real.
    await laptop.getByLabel('Work offline').check();
    await phoneContext.setOffline(true);
    await until(async () => (await status(phone)).status === 'offline', 'the phone to notice it is offline');

    await oneMore(laptop, 'TEA-SENCHA'); // concurrent with the phone's add: both count
    await removeLine(laptop, 'MUG-STONE'); // the phone never touches it: it must stay removed
    await toggleSelected(laptop, 'CLOTH-LINEN'); // deselect, concurrent with a quantity set on the phone
    await removeLine(laptop, 'TIN-WASHI'); // removes the 2 it saw, not the phone's concurrent add
    await addToCart(laptop, 'KETTLE-GOOSE');

    await oneMore(phone, 'TEA-SENCHA');
    await setQuantity(phone, 'CLOTH-LINEN', 3);
    await oneMore(phone, 'TIN-WASHI');
    await addToCart(phone, 'SCALE-01');

    assert.deepEqual(await status(laptop), { status: 'offline', pending: 5 });
    assert.equal((await status(phone)).status, 'offline');
    assert.match(await phone.locator('#status').textContent(), /Offline · 4 changes pending/);
    await screenshot(laptop, '02-laptop-offline-edits');
    await screenshot(phone, '03-phone-offline-edits');

    await laptop.getByLabel('Work offline').uncheck();
    await phoneContext.setOffline(false);
    const converged = {
      'TEA-SENCHA': 4,
      'CLOTH-LINEN': [3, false],
      'TIN-WASHI': 1,
      'KETTLE-GOOSE': 1,
      'SCALE-01': 1,
    };
    await untilShown(laptop, converged, 'the laptop to converge');
    await untilShown(phone, converged, 'the phone to converge');
    await untilSynced(laptop, 'the laptop to sync its offline edits');
    await untilSynced(phone, 'the phone to sync its offline edits');

    // The server agrees, and the totals on screen follow the selection (CLOTH-LINEN is not selected).
    const server = (await call('GET', '/v1/me/cart', { token: await devToken(user) })).body;
    assert.deepEqual(
      server.lines.map((l) => [l.sku, l.qty, l.selected]).sort(),
      [['CLOTH-LINEN', 3, false], ['KETTLE-GOOSE', 1, true], ['SCALE-01', 1, true], ['TEA-SENCHA', 4, true], ['TIN-WASHI', 1, true]],
    );
    const selectedTotal = 4 * 12.9 + 69 + 22 + 11.5;
    assert.equal(await laptop.locator('#selected-total').textContent(), `€${selectedTotal.toFixed(2)}`);
    await screenshot(laptop, '04-laptop-converged');
    await screenshot(phone, '05-phone-converged');
    assert.deepEqual([...laptop.problems, ...phone.problems], []);
  } finally {
    await laptopContext.close();
    await phoneContext.close();
  }
});

test('a guest cart survives a reload and merges into the account on sign-in, shown on both devices', async () => {
  const user = newUserId('e2e-merge');
  const otherContext = await browser.newContext();
  const shopContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    // The account already has a cart, made on another device.
    const other = await openPage(otherContext, base);
    await signIn(other, user);
    await addToCart(other, 'TEA-SENCHA');
    for (let i = 0; i < 3; i++) await addToCart(other, 'MUG-STONE');
    await untilSynced(other, 'the account cart to reach the server');

    const shop = await openPage(shopContext, base);
    await addToCart(shop, 'TEA-SENCHA');
    await addToCart(shop, 'TEA-SENCHA');
    await addToCart(shop, 'CUP-GLASS');
    await shop.reload();
    await shop.waitForSelector('body[data-ready="true"]');
    await untilShown(shop, { 'TEA-SENCHA': 2, 'CUP-GLASS': 1 }, 'the guest cart after a reload');
    await screenshot(shop, '06-guest-cart-after-reload');

    const message = await signIn(shop, user, 'max');
    assert.match(message, /2 lines from your guest cart were added/);
    // max: the larger of the guest's 2 and the account's 1 sencha; the account's mugs stay; the cup joins.
    const merged = { 'TEA-SENCHA': 2, 'MUG-STONE': 3, 'CUP-GLASS': 1 };
    await untilShown(shop, merged, 'the merged cart on the signed-in page');
    await untilShown(other, merged, 'the merged cart on the other device, without a reload');
    await untilSynced(shop, 'the merge to reach the server');
    const server = (await call('GET', '/v1/me/cart', { token: await devToken(user) })).body;
    assert.equal(server.itemCount, 6);
    await screenshot(shop, '07-signed-in-after-merge');
    assert.deepEqual([...shop.problems, ...other.problems], []);
  } finally {
    await otherContext.close();
    await shopContext.close();
  }
});

test('a cart that hits its limits says so clearly and stays as it was', async () => {
  const context = await browser.newContext();
  try {
    const page = await openPage(context, base);
    await addToCart(page, 'MATCHA-30');
    await setQuantity(page, 'MATCHA-30', 999);
    await untilShown(page, { 'MATCHA-30': 999 }, 'the quantity set');
    await oneMore(page, 'MATCHA-30');
    await page.getByText('At most 999 of one product per line.').waitFor();
    await untilShown(page, { 'MATCHA-30': 999 }, 'the refused add to leave the line alone');
    // Fill the cart to its 120-line cap through the library, then try one more line from the page.
    await page.evaluate(() => {
      for (let i = 1; i < 120; i++) globalThis.edgeCart.add(`BULK-${i}`, 1);
    });
    await page.locator('#counts').filter({ hasText: '120 lines' }).waitFor();
    await addToCart(page, 'TRAY-OAK');
    await page.getByText('Your cart is full: 120 lines at most.').waitFor();
    assert.equal(await line(page, 'TRAY-OAK').count(), 0);
    await screenshot(page, '08-cart-full-message');
    assert.deepEqual(page.problems, []);
  } finally {
    await context.close();
  }
});

test('prices come from the catalog, flagged lines are greyed out, checkout and share links work, a removal can be undone', async () => {
  const shopContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const friendContext = await browser.newContext();
  try {
    const shop = await openPage(shopContext, base);
    assert.equal(await shop.locator('li.product[data-sku="BOWL-RAKU"] button').isDisabled(), true, 'sold out');
    await addToCart(shop, 'TEA-SENCHA');
    await addToCart(shop, 'TEA-SENCHA');
    await addToCart(shop, 'MATCHA-30');
    await setQuantity(shop, 'MATCHA-30', 11); // the catalog allows 10 per order
    await until(async () => (await line(shop, 'MATCHA-30').getAttribute('data-issue')) === 'ABOVE_MAX_PER_LINE', 'the flag');
    await line(shop, 'MATCHA-30').getByText('At most 10 per order').waitFor();
    assert.equal(await shop.locator('#selected-total').textContent(), '€25.80', 'the flagged line is not in the total');

    await shop.getByRole('button', { name: 'Share cart' }).click();
    await until(async () => (await shop.locator('#share-link').inputValue()).includes('/?share='), 'the share link');
    const link = await shop.locator('#share-link').inputValue();
    await screenshot(shop, '10-flagged-line-and-share-link');

    // Someone else opens the link: a read-only view, and a button to copy it into their own cart.
    const friend = await openPage(friendContext, link);
    await friend.locator('#shared li[data-sku="TEA-SENCHA"]').waitFor();
    await friend.getByRole('button', { name: 'Add these to my cart' }).click();
    await untilShown(friend, { 'TEA-SENCHA': 2, 'MATCHA-30': 11 }, 'the copied lines in the friend\'s cart');
    await screenshot(friend, '11-shared-cart-copied');

    await shop.getByRole('button', { name: 'Check out selected' }).click();
    await shop.locator('#order').waitFor({ state: 'visible' });
    assert.equal(await shop.locator('#order-total').textContent(), '€25.80');
    assert.match(await shop.locator('#order-id').textContent(), /^co_/);
    await untilShown(shop, { 'MATCHA-30': 11 }, 'the checked-out lines to leave the cart');
    await screenshot(shop, '12-order-summary');

    await removeLine(shop, 'MATCHA-30');
    await untilShown(shop, {}, 'the removal');
    await shop.locator('#notice').getByRole('button', { name: 'Undo' }).click();
    await untilShown(shop, { 'MATCHA-30': 11 }, 'the undone removal');
    await untilShown(friend, { 'TEA-SENCHA': 2, 'MATCHA-30': 11 }, 'the friend\'s cart, untouched by all this');
    assert.deepEqual([...shop.problems, ...friend.problems], []);
  } finally {
    await shopContext.close();
    await friendContext.close();
  }
});

test('after a worker restart the page still shows the cart, and a new device gets it from the server', async () => {
  const user = newUserId('e2e-restart');
  let server = await startServer({ port: 8794 });
  const persistTo = server.persistTo;
  const context = await browser.newContext();
  const fresh = await browser.newContext();
  try {
    const page = await openPage(context, server.url);
    await signIn(page, user);
    await addToCart(page, 'POT-CAST');
    await addToCart(page, 'TEA-EARL');
    await addToCart(page, 'TEA-EARL');
    await untilSynced(page, 'the cart to reach the server');

    await server.stop('SIGTERM');
    await until(async () => (await status(page)).status !== 'online', 'the page to see the server go');
    server = await startServer({ port: 8794, persistTo });
    await untilSynced(page, 'the page to reconnect to the restarted worker');
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    await untilShown(page, { 'POT-CAST': 1, 'TEA-EARL': 2 }, 'the cart after the restart');
    await untilSynced(page, 'the reloaded page to sync');
    await screenshot(page, '09-after-worker-restart');

    const newDevice = await openPage(fresh, server.url);
    await signIn(newDevice, user);
    await untilShown(newDevice, { 'POT-CAST': 1, 'TEA-EARL': 2 }, 'a new device to load the cart from the server');
    assert.deepEqual([...page.problems, ...newDevice.problems], []);
  } finally {
    await context.close();
    await fresh.close();
    await server.stop();
  }
});

test('in Chromium, a refused token over WebSocket raises one error event, and setToken resumes syncing by itself', async () => {
  // A browser shows a refused upgrade only as a close without a status: the library asks over HTTP why.
  const user = newUserId('chromium-token');
  const expired = sign({ sub: user, exp: Math.floor(Date.now() / 1000) - 3600 });
  const fresh = tokenFor(user);
  const context = await browser.newContext();
  try {
    const page = await openPage(context, base);
    const seen = await page.evaluate(async ({ expired, fresh }) => {
      // The raw package (dev builds copy it to /pkg/); the storefront's own copy is bundled under /assets/.
      const { default: init, CartClient } = await import('/pkg/cart_client.js');
      await init();
      const cart = new CartClient(location.origin, { storageKey: 'token-test', transport: 'websocket', autoConnect: false });
      const errors = [];
      cart.addEventListener('error', (e) => errors.push(e.detail.code));
      cart.login(expired);
      cart.add('KEPT', 1);
      cart.connect();
      const deadline = Date.now() + 15_000;
      while (errors.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const refused = { codes: [...errors], status: cart.view().status };
      cart.setToken(fresh);
      const flushed = await cart.flush(15_000);
      return { refused, flushed, codes: errors, status: cart.view().status };
    }, { expired, fresh });
    assert.deepEqual(seen.refused, { codes: ['TOKEN_EXPIRED'], status: 'offline' });
    assert.equal(seen.flushed, true);
    assert.deepEqual(seen.codes, ['TOKEN_EXPIRED'], 'one error event');
    assert.equal(seen.status, 'online');
    const server = await call('GET', '/v1/me/cart', { token: fresh });
    assert.deepEqual(server.body.lines.map((l) => [l.sku, l.qty]), [['KEPT', 1]]);
  } finally {
    await context.close();
  }
});

test('select all toggles every line in one change, and buy again puts a checked-out order back in one batch', async () => {
  const context = await browser.newContext();
  try {
    const page = await openPage(context, base);
    await addToCart(page, 'TEA-SENCHA');
    await addToCart(page, 'MUG-STONE');
    await addToCart(page, 'MUG-STONE');
    await untilShown(page, { 'TEA-SENCHA': 1, 'MUG-STONE': 2 }, 'the two lines');
    const selectAll = page.getByLabel('Select all for checkout');
    assert.equal(await selectAll.isChecked(), true);
    await selectAll.uncheck();
    await untilShown(page, { 'TEA-SENCHA': [1, false], 'MUG-STONE': [2, false] }, 'every line deselected');
    await toggleSelected(page, 'MUG-STONE');
    await until(async () => page.locator('#select-all').evaluate((el) => el.indeterminate), 'select all to show some are selected');
    await selectAll.check();
    await untilShown(page, { 'TEA-SENCHA': [1, true], 'MUG-STONE': [2, true] }, 'every line selected again');
    await untilSynced(page, 'the page to sync');
    await page.getByRole('button', { name: 'Check out selected' }).click();
    await page.locator('#order').waitFor();
    await untilShown(page, {}, 'the checked-out lines to leave the cart');
    await page.getByRole('button', { name: 'Buy again' }).click();
    await untilShown(page, { 'TEA-SENCHA': 1, 'MUG-STONE': 2 }, 'the order back in the cart');
    await untilSynced(page, 'the page to sync');
    const id = await page.locator('#cart-id').textContent();
    const server = await call('GET', `/v1/carts/${id}`);
    assert.deepEqual(Object.fromEntries(server.body.lines.map((l) => [l.sku, l.qty])), { 'TEA-SENCHA': 1, 'MUG-STONE': 2 });
    assert.deepEqual(page.problems, []);
  } finally {
    await context.close();
  }
});
