// The React and Vue examples (examples/, built with esbuild from npm packages by scripts/build-examples.sh) in
// Debian's Chromium against the real workerd: add, an offline add, a reload, a sign-in, and a second device that
// signs in as the same user and sees the same cart. Each browser context is a separate device.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { base, newUserId } from '../support/cart.mjs';
import { launch, openPage, screenshot } from '../support/browser.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** Polls `check` until it passes (returns anything but false without throwing) or `ms` runs out. */
async function until(check, what, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (let last; ; await new Promise((r) => setTimeout(r, 100))) {
    try {
      if ((await check()) !== false) return;
      last = 'not yet';
    } catch (e) {
      last = e.message;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${last}`);
  }
}

/** The lines the page shows, {sku: qty}. */
const shown = (page) => page.$$eval('#lines li', (els) => Object.fromEntries(els.map((e) => [e.dataset.sku, Number(e.dataset.qty)])));
const untilShown = (page, want, what) => until(async () => assert.deepEqual(await shown(page), want), what);
const untilSynced = (page, what) => until(async () => {
  const el = page.locator('#status');
  assert.deepEqual([await el.getAttribute('data-status'), await el.getAttribute('data-pending')], ['online', '0']);
}, what);
const add = (page, sku) => page.locator(`#products button[data-sku="${sku}"]`).click();
async function signIn(page, user) {
  await page.locator('#user').fill(user);
  await page.locator('#sign-in').click();
  await until(async () => assert.equal(await page.locator('#who').textContent(), `Signed in as ${user}`), `${user} signed in`);
}

for (const framework of ['react', 'vue']) {
  test(`the ${framework} example adds online and offline, survives a reload, and follows a signed-in user to a second device`, async () => {
    const url = `${base}/examples/${framework}/`;
    const laptopContext = await browser.newContext();
    const phoneContext = await browser.newContext();
    try {
      const laptop = await openPage(laptopContext, url);
      await untilSynced(laptop, 'the first sync');
      await add(laptop, 'TEA-SENCHA');
      await untilShown(laptop, { 'TEA-SENCHA': 1 }, 'the first add');
      await untilSynced(laptop, 'the add synced');
      // Offline: the add is shown at once and pending; it syncs when the network comes back.
      await laptopContext.setOffline(true);
      await add(laptop, 'MUG-STONE');
      await untilShown(laptop, { 'TEA-SENCHA': 1, 'MUG-STONE': 1 }, 'the offline add');
      await until(async () => Number(await laptop.locator('#status').getAttribute('data-pending')) > 0, 'a pending edit');
      // The page itself needs the network to load again (no offline page cache yet): reload as it comes back.
      await laptopContext.setOffline(false);
      await laptop.reload();
      await laptop.waitForSelector('body[data-ready="true"]');
      await untilShown(laptop, { 'TEA-SENCHA': 1, 'MUG-STONE': 1 }, 'the cart after a reload');
      await untilSynced(laptop, 'the offline add synced');
      const user = newUserId(`example-${framework}`);
      await signIn(laptop, user);
      await untilShown(laptop, { 'TEA-SENCHA': 1, 'MUG-STONE': 1 }, 'the guest cart merged into the user\'s');
      await untilSynced(laptop, 'the user cart synced');
      // A second device: the same user sees the same cart, and its add reaches the first device live.
      const phone = await openPage(phoneContext, url);
      await signIn(phone, user);
      await untilShown(phone, { 'TEA-SENCHA': 1, 'MUG-STONE': 1 }, 'the user cart on the second device');
      await add(phone, 'TEA-SENCHA');
      await untilShown(laptop, { 'TEA-SENCHA': 2, 'MUG-STONE': 1 }, 'the second device\'s add, live on the first');
      await screenshot(laptop, `examples-${framework}`);
      assert.deepEqual([...laptop.problems, ...phone.problems], []);
    } finally {
      await laptopContext.close();
      await phoneContext.close();
    }
  });
}
