// A bounded mixed load on many carts: adds, reads and selection changes from concurrent clients, then a check that
// every acknowledged add is in its cart (lost = 0) and nothing else is (extra = 0). `make load` runs it for 60 s
// against its own wrangler dev and prints a table; tests/load.test.mjs runs a short one in `make test`.
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import { call, newCartId, startServer, unlimited } from '../tests/support/cart.mjs';

const SKUS = 20;

function send(agent, method, url, body) {
  return new Promise((resolve) => {
    const req = http.request(url, { method, agent, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('close', () => resolve(res.complete ? res.statusCode : 0));
    });
    req.setTimeout(30_000, () => req.destroy(new Error('timed out')));
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

/** Runs the load against `url` for `seconds`; resolves to the figures, after checking every cart. */
export async function runLoad({ url, seconds, carts = 200, concurrency = 16 }) {
  const ids = Array.from({ length: carts }, newCartId);
  const acked = new Map(); // "id sku" -> acknowledged adds
  const latencies = [];
  const errors = {};
  let requests = 0;
  let seed = 1;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const end = Date.now() + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (Date.now() < end) {
      const id = ids[Math.floor(random() * carts)];
      const sku = `SKU-${Math.floor(random() * SKUS)}`;
      const roll = random();
      const started = process.hrtime.bigint();
      let status;
      if (roll < 0.7) {
        status = await send(agent, 'POST', `${url}/v1/carts/${id}/lines`, JSON.stringify({ sku, qty: 1 }));
        if (status === 200) acked.set(`${id} ${sku}`, (acked.get(`${id} ${sku}`) ?? 0) + 1);
      } else if (roll < 0.9) {
        status = await send(agent, 'GET', `${url}/v1/carts/${id}`);
      } else {
        // Selection changes on a line that may not exist yet: 404 LINE_NOT_FOUND is a correct answer there.
        status = await send(agent, 'PATCH', `${url}/v1/carts/${id}/lines/${sku}`, JSON.stringify({ selected: random() < 0.5 }));
        if (status === 404) status = 200;
      }
      latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
      requests++;
      if (status !== 200) errors[status] = (errors[status] ?? 0) + 1;
    }
  }));
  agent.destroy();
  // Every acknowledged add must be there, and nothing more.
  let lost = 0;
  let extra = 0;
  for (const id of ids) {
    const { body } = await call('GET', `/v1/carts/${id}`, { url });
    const have = new Map(body.lines.map((l) => [l.sku, l.qty]));
    for (let s = 0; s < SKUS; s++) {
      const want = acked.get(`${id} SKU-${s}`) ?? 0;
      const got = have.get(`SKU-${s}`) ?? 0;
      if (got < want) lost += want - got;
      if (got > want) extra += got - want;
    }
  }
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  const ackedAdds = [...acked.values()].reduce((a, b) => a + b, 0);
  return { seconds, carts, concurrency, requests, rps: requests / seconds, p50: at(0.5), p99: at(0.99), errors, ackedAdds, lost, extra };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const seconds = Number(process.env.LOAD_SECONDS ?? 60);
  const server = await startServer({
    port: Number(process.env.LOAD_PORT ?? 8790),
    env: unlimited,
  });
  let r;
  try {
    r = await runLoad({ url: server.url, seconds });
  } finally {
    await server.stop();
  }
  console.log(`\nMixed load through wrangler dev: ${r.carts} carts, ${r.concurrency} requests in flight, 70% add / 20% read / 10% select.\n`);
  console.log('| seconds | requests | req/s | p50 ms | p99 ms | errors | acknowledged adds | lost | extra |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  const errs = Object.entries(r.errors).map(([s, n]) => `${n} x ${s}`).join(', ') || '0';
  console.log(`| ${r.seconds} | ${r.requests} | ${r.rps.toFixed(1)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${errs} | ${r.ackedAdds} | ${r.lost} | ${r.extra} |`);
  if (Object.keys(r.errors).length || r.lost || r.extra) process.exitCode = 1;
}
