// Debian's Chromium driven by playwright-core, for the storefront's end-to-end tests (see shared TOOLCHAIN notes:
// playwright's own browser download does not work here). Each launch gets a fresh profile, so no LocalStorage leaks
// between runs; each context is a separate device.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

/** Where each run leaves its screenshots for a human to look at (git-ignored). */
export const SCREENSHOTS = join(import.meta.dirname, '..', '..', 'test-results', 'screenshots');

export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run'],
  });
}

/**
 * A page on `url` whose console errors and uncaught exceptions are collected in `page.problems`. Chromium's own
 * reports of refused or offline connections (net::ERR_...) are expected while a test takes the network or the
 * server away, so they are not problems; a 404 or a script error is.
 */
export async function openPage(context, url) {
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/net::ERR_/.test(m.text())) page.problems.push(`console: ${m.text()}`);
  });
  await page.goto(url);
  // The storefront works at first paint and says so (data-ready); the tests drive it once its library has taken
  // over too (data-library), unless they test the first paint itself.
  await page.waitForSelector('body[data-ready="true"]:not([data-library="loading"])');
  return page;
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}
