// Server path benchmark on the real workerd (`wrangler dev`, started by the project's scripts): requests/s and
// latency of add-to-cart and read on one cart, side by side with a no-op Durable Object round trip (the local floor:
// same proxy, same worker, same object, no work) measured in the same run, at 0, 1,000 and 10,000 edits of history.
// Beside them, to show where an add's time goes: a no-op that writes one SQLite row, the same answering as many
// bytes as the add's reply, and the add without the catalog join. Also the stored bytes after 10,000 edits, a cold load and an object's start-up. Prints markdown tables.
// `make bench-server`.
import http from 'node:http';
import { call, newCartId, startServer, unlimited } from '../tests/support/cart.mjs';

const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const PORT = Number(process.env.BENCH_PORT ?? 8791);

const SLICES = Number(process.env.BENCH_SLICES ?? 8);

/** Fires `request(agent, i)` with CONCURRENCY in flight for `seconds`, appending each latency to `kind.latencies`
 * (and counting non-2xx answers); `kind.next` numbers the requests across calls. */
async function run(agent, kind, seconds) {
  const started = process.hrtime.bigint();
  const end = Date.now() + seconds * 1000;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (Date.now() < end) {
      const started = process.hrtime.bigint();
      const status = await kind.request(agent, kind.next++);
      kind.latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
      if (status < 200 || status >= 300) kind.errors++;
    }
  }));
  // The turn lasts until its last request in flight is answered: rates divide by that time, not by `seconds`.
  kind.seconds += Number(process.hrtime.bigint() - started) / 1e9;
}

/** Measures the kinds side by side: SECONDS each, in SLICES turns that take them in order, so a drift of the
 * machine during the cell weighs on every kind alike. Returns { rps, p50, p99, errors } by kind. */
async function cell(agent, requests) {
  const kinds = Object.fromEntries(Object.entries(requests).map(([name, request]) =>
    [name, { request, next: 0, latencies: [], errors: 0, seconds: 0 }]));
  for (let s = 0; s < SLICES; s++) {
    for (const kind of Object.values(kinds)) await run(agent, kind, SECONDS / SLICES);
  }
  return Object.fromEntries(Object.entries(kinds).map(([name, { latencies, errors, seconds }]) => {
    latencies.sort((a, b) => a - b);
    const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
    return [name, { rps: latencies.length / seconds, requests: latencies.length, p50: at(0.5), p99: at(0.99), errors }];
  }));
}

/** One request; `counted(bytes)` hears the length of the answer's body. */
function send(agent, method, url, body, counted) {
  return new Promise((resolve) => {
    const req = http.request(url, { method, agent, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      let bytes = 0;
      res.on('data', (chunk) => { bytes += chunk.length; });
      res.on('end', () => {
        counted?.(bytes);
        resolve(res.statusCode);
      });
    });
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

/** Milliseconds one request takes, alone. */
async function timed(agent, method, url, body) {
  const started = process.hrtime.bigint();
  const status = await send(agent, method, url, body);
  if (status !== 200) throw new Error(`${method} ${url}: ${status}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

const ROUNDS = Number(process.env.BENCH_COLD_ROUNDS ?? 25);
const cold = { read: [], readWarm: [], write: [], writeWarm: [], loaded: [], warm: [], first: [], second: [] };
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const server = await startServer({
  port: PORT,
  env: unlimited,
});
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
const rows = [];
let storage;
try {
  const id = newCartId();
  const cart = `${server.url}/v1/carts/${id}`;
  const noopUrl = `${server.url}/v1/dev/carts/${id}/noop`;
  let history = 0;
  for (const target of [0, 1000, 10000]) {
    if (target > history) {
      const seeded = await call('POST', `/v1/dev/carts/${id}/seed`, { json: { edits: target - history }, url: server.url });
      if (seeded.status !== 200) throw new Error(`seed failed: ${JSON.stringify(seeded.body)}`);
      history = target;
    }
    const before = history;
    // Warm the object and the connections, then measure them side by side.
    await run(agent, { request: (a) => send(a, 'POST', noopUrl), next: 0, latencies: [], errors: 0, seconds: 0 }, SECONDS);
    const body = (i) => JSON.stringify({ sku: `SKU-${i % 120}`, qty: 1 });
    // A durable no-op that answers as many bytes as the last add did (the cart grows while the cell runs, so its
    // turns come after the add's).
    let replyBytes = Buffer.byteLength(JSON.stringify((await call('GET', `/v1/carts/${id}`, { url: server.url })).body));
    const { noop, noopWrite, unpriced, add, noopBody, read } = await cell(agent, {
      noop: (a) => send(a, 'POST', noopUrl),
      noopWrite: (a) => send(a, 'POST', `${server.url}/v1/dev/carts/${id}/noop-write`),
      unpriced: (a, i) => send(a, 'POST', `${server.url}/v1/dev/carts/${id}/lines-unpriced`, body(i)),
      add: (a, i) => send(a, 'POST', `${cart}/lines`, body(i), (bytes) => { replyBytes = bytes; }),
      noopBody: (a) => send(a, 'POST', `${server.url}/v1/dev/carts/${id}/noop-write`, JSON.stringify({ bytes: replyBytes })),
      read: (a) => send(a, 'GET', cart),
    });
    rows.push({ history: before, replyBytes, noop, noopWrite, noopBody, unpriced, add, read });
    // The adds are history too; set the lines back to 1 so the next round stays below the 999 cap.
    history += add.requests + unpriced.requests;
    for (let s = 0; s < 120; s++) await call('PATCH', `/v1/carts/${id}/lines/SKU-${s}`, { json: { qty: 1 }, url: server.url });
    history += 120;
  }
  storage = (await call('GET', `/v1/dev/carts/${id}/storage`, { url: server.url })).body;
  // Cold load of that cart in its object: drop the loaded cart (dev route), then time the next command against the
  // same command on the warm object. A read is answered from the read model (no document load); a write loads the
  // document; the storage route loads the document and answers a few numbers (no catalog join), so it shows the
  // load alone.
  // Object start-up: the first command to a new object (constructor, SQLite tables, an empty cart) against the
  // second. Time inside an object does not advance during synchronous work, so both are timed from outside.
  const storageUrl = `${server.url}/v1/dev/carts/${id}/storage`;
  for (let i = 0; i < ROUNDS; i++) {
    await send(agent, 'POST', `${server.url}/v1/dev/carts/${id}/evict`);
    cold.read.push(await timed(agent, 'GET', cart));
    cold.readWarm.push(await timed(agent, 'GET', cart));
    const edit = JSON.stringify({ qty: 2 + (i % 3) });
    await send(agent, 'POST', `${server.url}/v1/dev/carts/${id}/evict`);
    cold.write.push(await timed(agent, 'PATCH', `${cart}/lines/SKU-${i % 120}`, edit));
    cold.writeWarm.push(await timed(agent, 'PATCH', `${cart}/lines/SKU-${(i + 1) % 120}`, edit));
    await send(agent, 'POST', `${server.url}/v1/dev/carts/${id}/evict`);
    cold.loaded.push(await timed(agent, 'GET', storageUrl));
    cold.warm.push(await timed(agent, 'GET', storageUrl));
    const fresh = `${server.url}/v1/dev/carts/${newCartId()}/storage`;
    cold.first.push(await timed(agent, 'GET', fresh));
    cold.second.push(await timed(agent, 'GET', fresh));
  }
} finally {
  agent.destroy();
  await server.stop();
}

const f = (n) => n.toFixed(1);
console.log(`\nServer path through wrangler dev, one cart, ${CONCURRENCY} requests in flight, ${SECONDS} s per kind and cell, in ${SLICES} interleaved turns.\n`);
console.log('| history (edits) | no-op DO round trip req/s (p50 / p99 ms) | add-to-cart req/s (p50 / p99 ms) | read req/s (p50 / p99 ms) | add / no-op | read / no-op |');
console.log('|---|---|---|---|---|---|');
const show = (r) => `${f(r.rps)} (${f(r.p50)} / ${f(r.p99)})${r.errors ? ` ${r.errors} errors` : ''}`;
for (const { history, noop, add, read } of rows) {
  console.log(`| ${history.toLocaleString('en')} | ${show(noop)} | ${show(add)} | ${show(read)} | ${(add.rps / noop.rps).toFixed(2)} | ${(read.rps / noop.rps).toFixed(2)} |`);
}
console.log('\nWhere add-to-cart goes beyond the no-op, same run: a no-op that writes one SQLite row (the floor of any');
console.log('durable write), and the add without the catalog join (dev route).\n');
console.log('| history (edits) | durable no-op req/s (p50 / p99 ms) | add, unpriced req/s (p50 / p99 ms) | durable no-op / no-op | add / durable no-op | add unpriced / durable no-op | add / add unpriced |');
console.log('|---|---|---|---|---|---|---|');
for (const { history, noop, noopWrite, unpriced, add } of rows) {
  console.log(`| ${history.toLocaleString('en')} | ${show(noopWrite)} | ${show(unpriced)} | ${(noopWrite.rps / noop.rps).toFixed(2)} | ${(add.rps / noopWrite.rps).toFixed(2)} | ${(unpriced.rps / noopWrite.rps).toFixed(2)} | ${(add.rps / unpriced.rps).toFixed(2)} |`);
}
console.log('\nHow much of that is the reply itself: the durable no-op answering as many bytes of JSON as the add does');
console.log('(passed through unpriced), same run.\n');
console.log('| history (edits) | reply bytes | durable no-op with the reply\'s size req/s (p50 / p99 ms) | with body / durable no-op | add / durable no-op with body | add unpriced / durable no-op with body |');
console.log('|---|---|---|---|---|---|');
for (const { history, replyBytes, noopWrite, noopBody, unpriced, add } of rows) {
  console.log(`| ${history.toLocaleString('en')} | ${replyBytes.toLocaleString('en')} | ${show(noopBody)} | ${(noopBody.rps / noopWrite.rps).toFixed(2)} | ${(add.rps / noopBody.rps).toFixed(2)} | ${(unpriced.rps / noopBody.rps).toFixed(2)} |`);
}
console.log(`\nStorage of that cart afterwards (120 lines, over 10,000 edits): snapshot ${storage.snapshotBytes} B, ${storage.changeRows} change rows (${storage.changeBytes} B), read model ${storage.viewBytes} B, SQLite database ${storage.databaseBytes} B.`);

const m = (k) => median(cold[k]);
console.log(`\nCold load and object start-up, one request at a time, medians of ${ROUNDS}.\n`);
console.log('| case | first request ms | same request, warm object ms | difference ms |');
console.log('|---|---|---|---|');
console.log(`| read of the cart above after eviction (answered from the read model) | ${f(m('read'))} | ${f(m('readWarm'))} | ${f(m('read') - m('readWarm'))} |`);
console.log(`| write to the cart above after eviction (loads the document) | ${f(m('write'))} | ${f(m('writeWarm'))} | ${f(m('write') - m('writeWarm'))} |`);
console.log(`| document load of the cart above after eviction (storage route) | ${f(m('loaded'))} | ${f(m('warm'))} | ${f(m('loaded') - m('warm'))} |`);
console.log(`| start-up of a new, empty cart object | ${f(m('first'))} | ${f(m('second'))} | ${f(m('first') - m('second'))} |`);
