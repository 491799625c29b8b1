// `make bench-first-load`: how soon a shopper can use the demo storefront, in Debian's Chromium with the network
// throttled through the DevTools protocol, against the real workerd (`wrangler dev`, the project's scripts). From
// navigation start: when the first "Add to cart" button works (the page says it is ready and the button is
// enabled), when the first add shows in the cart panel (the button is clicked as soon as it works), and the bytes
// that came over the network until then; for a first visit (empty cache) and a repeat visit (the same browser
// profile, HTTP cache warm). Beside it, in the same run, the floor: a static page with one working button served by
// the same worker (examples/bench/floor.html, in dev builds at /bench/floor.html). Median of RUNS (default 3). Bytes count HTTP responses (the WebSocket is
// not counted); the CPU is not throttled. Prints a markdown table; ratios compare the
// page with the floor of the same run.
import { startServer, unlimited } from '../tests/support/cart.mjs';
import { launch } from '../tests/support/browser.mjs';

const PORT = Number(process.env.BENCH_PORT ?? 8794);
const RUNS = Number(process.env.RUNS ?? 3);
// DevTools' presets: latency in ms, throughput in bytes/s.
const PROFILES = [
  { name: 'Slow 4G (150 ms, 1.6 Mbit/s)', latency: 150, download: 1.6e6 / 8, upload: 0.75e6 / 8 },
  { name: 'Fast 4G (60 ms, 9 Mbit/s)', latency: 60, download: 9e6 / 8, upload: 1.5e6 / 8 },
];
const PAGES = [
  { name: 'storefront', path: '/', add: 'li.product button:not([disabled])' },
  { name: 'floor', path: '/bench/floor.html', add: '#add' },
];

/** Runs in the page before its own scripts: notes when the add button works, the click, and the first change of
 * the cart panel after it (performance.now(): ms since navigation start). */
function instrument(addSelector) {
  const bench = { ready: null, click: null, shown: null };
  window.__bench = bench;
  const check = (mutations) => {
    if (bench.ready === null && document.body?.dataset.ready === 'true' && document.querySelector(addSelector)) {
      bench.ready = performance.now();
    }
    if (bench.click !== null && bench.shown === null && mutations?.some((m) => {
      const el = m.target.nodeType === 1 ? m.target : m.target.parentElement;
      return el?.closest?.('#lines');
    })) {
      bench.shown = performance.now();
    }
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
  document.addEventListener('click', () => { if (bench.click === null) bench.click = performance.now(); }, true);
}

async function visit(context, profile, url, page) {
  const tab = await context.newPage();
  await tab.addInitScript(instrument, page.add);
  // Throttling and byte counts are per page: one DevTools session on this tab, before it navigates.
  const cdp = await context.newCDPSession(tab);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: profile.latency, downloadThroughput: profile.download, uploadThroughput: profile.upload,
  });
  let bytes = 0;
  const count = (e) => { bytes += e.encodedDataLength; };
  cdp.on('Network.loadingFinished', count);
  await tab.goto(url, { waitUntil: 'commit' });
  await tab.waitForFunction(() => window.__bench !== undefined && window.__bench.ready !== null, null, { timeout: 60_000, polling: 'raf' });
  await tab.locator(page.add).first().click();
  await tab.waitForFunction(() => window.__bench.shown !== null, null, { timeout: 60_000, polling: 'raf' });
  const bench = await tab.evaluate(() => window.__bench);
  cdp.off('Network.loadingFinished', count);
  await cdp.detach();
  await tab.close();
  return { ...bench, bytes };
}

const server = await startServer({ port: PORT, env: unlimited });
const browser = await launch();
const rows = [];
try {
  for (const profile of PROFILES) {
    for (const page of PAGES) {
      const cells = { first: [], repeat: [] };
      for (let run = 0; run < RUNS; run++) {
        // A fresh profile: the first visit finds the HTTP cache empty, the repeat visit finds it warm.
        const context = await browser.newContext();
        const url = `${server.url}${page.path}`;
        cells.first.push(await visit(context, profile, url, page));
        cells.repeat.push(await visit(context, profile, url, page));
        await context.close();
      }
      for (const visitKind of ['first', 'repeat']) {
        const median = (key) => cells[visitKind].map((c) => c[key]).sort((a, b) => a - b)[Math.floor(RUNS / 2)];
        const frames = cells[visitKind].map((c) => c.shown - c.click).sort((a, b) => a - b);
        rows.push({ profile: profile.name, page: page.name, visit: visitKind, ready: median('ready'), shown: median('shown'),
          frame: frames[Math.floor(RUNS / 2)], bytes: median('bytes') });
      }
    }
  }
} finally {
  await browser.close();
  await server.stop();
}

const s = (ms) => (ms / 1000).toFixed(2);
console.log('\n| network | visit | page | Add button usable s | first add shown s | click to shown ms | bytes over the network |');
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.profile} | ${r.visit} | ${r.page} | ${s(r.ready)} | ${s(r.shown)} | ${r.frame.toFixed(0)} | ${r.bytes} |`);
}
console.log('\n| network | visit | usable / floor | shown / floor | target |');
console.log('|---|---|---|---|---|');
for (const profile of PROFILES) {
  for (const visitKind of ['first', 'repeat']) {
    const of = (page) => rows.find((r) => r.profile === profile.name && r.visit === visitKind && r.page === page);
    const [shop, floor] = [of('storefront'), of('floor')];
    const target = visitKind === 'first' ? '<= 1.6x (Slow 4G)' : '<= 1.25x';
    console.log(`| ${profile.name} | ${visitKind} | ${(shop.ready / floor.ready).toFixed(2)}x | ${(shop.shown / floor.shown).toFixed(2)}x | ${target} |`);
  }
}
