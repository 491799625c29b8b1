// Filling a 120-line cart over HTTP, as a server-rendered shop would (a "buy again", a backend filling a cart), on
// the real workerd with wrangler.toml's production write limits (a cart's bucket: a burst of 60, then 5/s): one
// request per line honouring each 429's Retry-After, against one `POST .../ops` batch. Then what a batch costs:
// the median latency of one add, of a batch of 120 adds to a new cart, and of a 120-op batch on a full cart, each
// with its catalog entries cold and warm in the isolate's cache.
// Prints a markdown table. `make bench-fill`.
import { call, newCartId, startServer } from '../tests/support/cart.mjs';

const PORT = Number(process.env.BENCH_PORT ?? 8785);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 41);
const skus = (n, tag) => Array.from({ length: n }, (_, i) => `${tag}-${i}`);

// The production limits, except the per-client ones (one benchmark client stands for many shoppers' carts).
const server = await startServer({
  port: PORT,
  env: { CART_VARS: 'CLIENT_WRITE_BURST:1000000 CLIENT_WRITES_PER_SECOND:1000000 CLIENT_READ_BURST:1000000 CLIENT_READS_PER_SECOND:1000000' },
});
const url = server.url;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  // One request per line, waiting as told on each 429.
  const oneByOne = newCartId();
  let requests = 0;
  let limited = 0;
  const t0 = process.hrtime.bigint();
  for (const sku of skus(120, 'LINE')) {
    for (;;) {
      requests++;
      const res = await call('POST', `/v1/carts/${oneByOne}/lines`, { json: { sku }, url });
      if (res.status === 200) break;
      if (res.status !== 429) throw new Error(`add answered ${res.status}`);
      limited++;
      await sleep(Number(res.headers.get('retry-after') ?? 1) * 1000);
    }
  }
  const singleFill = ms(t0);
  const batchCart = newCartId();
  const t1 = process.hrtime.bigint();
  const filled = await call('POST', `/v1/carts/${batchCart}/ops`, { json: { ops: skus(120, 'LINE').map((sku) => ({ op: 'add', sku })) }, url });
  const batchFill = ms(t1);
  if (filled.body.lineCount !== 120) throw new Error('the batch did not fill the cart');

  // Latencies, each request on a cart of its own (no bucket waits), alternating kinds so drift hits all alike. A
  // view is priced from the isolate's catalog reads of the last CATALOG_CACHE_SECONDS: "cold" requests name skus
  // never priced before (a KV read each), "warm" ones skus priced in the last round; each batch is compared with
  // the single add in the same state.
  const rows = { addCold: [], addWarm: [], batchCold: [], batchWarm: [], fullBatch: [] };
  const time = async (row, path, json) => {
    const t = process.hrtime.bigint();
    const res = await call('POST', path, { json, url });
    rows[row].push(ms(t));
    if (res.status !== 200) throw new Error(`${path} answered ${res.status}`);
  };
  const adds = (list) => ({ ops: list.map((sku) => ({ op: 'add', sku })) });
  for (let r = 0; r < ROUNDS; r++) {
    await time('addCold', `/v1/carts/${newCartId()}/lines`, { sku: `ONE-${r}` });
    await time('addWarm', `/v1/carts/${newCartId()}/lines`, { sku: 'LINE-0' });
    await time('batchCold', `/v1/carts/${newCartId()}/ops`, adds(skus(120, `R${r}`)));
    await time('batchWarm', `/v1/carts/${newCartId()}/ops`, adds(skus(120, 'LINE')));
    await time('fullBatch', `/v1/carts/${batchCart}/ops`, { ops: skus(120, 'LINE').map((sku) => ({ op: 'set', sku, qty: 1 + (r % 3) })) });
  }
  const [cold, warm] = [median(rows.addCold), median(rows.addWarm)];
  const row = (what, key, to, toName) =>
    console.log(`| ${what} (median of ${ROUNDS}) | ${median(rows[key]).toFixed(1)} ms | 1 | ${(median(rows[key]) / to).toFixed(2)} (${toName}) |`);
  console.log('| what | time | requests | ratio to one add |');
  console.log('|---|---|---|---|');
  console.log(`| fill 120 lines, one add per line, honouring Retry-After | ${(singleFill / 1000).toFixed(1)} s | ${requests} (${limited} answered 429) | |`);
  console.log(`| fill 120 lines, one \`POST .../ops\` | ${batchFill.toFixed(0)} ms | 1 | |`);
  row('one add of a sku never priced before, to a new cart', 'addCold', cold, 'cold');
  row('one add of a sku priced in the last round, to a new cart', 'addWarm', warm, 'warm');
  row('a batch of 120 adds of skus never priced before, to a new cart', 'batchCold', cold, 'cold');
  row('a batch of 120 adds of skus priced in the last round, to a new cart', 'batchWarm', warm, 'warm');
  row('a batch of 120 sets on a full cart', 'fullBatch', warm, 'warm');
} finally {
  await server.stop();
}
