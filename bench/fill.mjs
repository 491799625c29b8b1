// Filling a 120-line cart over HTTP, as a server-rendered shop would (a "buy again", a backend filling a cart), on
// the real workerd with wrangler.toml's production write limits (a cart's bucket: a burst of 60, then 5/s): one
// request per line honouring each 429's Retry-After, against one `POST .../ops` batch. Then what a batch costs:
// the median latency of one add, of a batch of 120 adds to a new cart, and of a 120-op batch on a full cart.
// Prints a markdown table. `make bench-fill`.
import { call, newCartId, startServer } from '../tests/support/cart.mjs';

const PORT = Number(process.env.BENCH_PORT ?? 8785);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
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

  // Latencies, each request on a cart of its own (no bucket waits), alternating kinds so drift hits all alike.
  const add = [];
  const batch = [];
  const fullBatch = [];
  for (let r = 0; r < ROUNDS; r++) {
    let t = process.hrtime.bigint();
    await call('POST', `/v1/carts/${newCartId()}/lines`, { json: { sku: 'ONE' }, url });
    add.push(ms(t));
    t = process.hrtime.bigint();
    await call('POST', `/v1/carts/${newCartId()}/ops`, { json: { ops: skus(120, `R${r}`).map((sku) => ({ op: 'add', sku })) }, url });
    batch.push(ms(t));
    t = process.hrtime.bigint();
    await call('POST', `/v1/carts/${batchCart}/ops`, { json: { ops: skus(120, 'LINE').map((sku) => ({ op: 'set', sku, qty: 1 + (r % 3) })) }, url });
    fullBatch.push(ms(t));
  }
  const a = median(add);
  console.log('| what | time | requests | ratio to one add |');
  console.log('|---|---|---|---|');
  console.log(`| fill 120 lines, one add per line, honouring Retry-After | ${(singleFill / 1000).toFixed(1)} s | ${requests} (${limited} answered 429) | |`);
  console.log(`| fill 120 lines, one \`POST .../ops\` | ${batchFill.toFixed(0)} ms | 1 | |`);
  console.log(`| one add to a new cart (median of ${ROUNDS}) | ${a.toFixed(1)} ms | 1 | 1.00 |`);
  console.log(`| a batch of 120 adds to a new cart (median) | ${median(batch).toFixed(1)} ms | 1 | ${(median(batch) / a).toFixed(2)} |`);
  console.log(`| a batch of 120 sets on a full cart (median) | ${median(fullBatch).toFixed(1)} ms | 1 | ${(median(fullBatch) / a).toFixed(2)} |`);
} finally {
  await server.stop();
}
