// Crash durability: a write load on a few carts while the workerd process is killed hard (SIGKILL) at a random
// moment after the first acknowledged write, then the server restarts on the same storage; repeated. Every add that
// got a 2xx must be in its cart afterwards (lost = 0). Adds in flight at the kill may or may not have landed: they
// are counted as "in flight, landed", at most one per connection per round. `make crash` runs 10 rounds and prints
// a table; the lifecycle test runs 3 in `make test`. CRASH_ROUNDS and CRASH_SEED change the run.
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import { call, newCartId, send, startServer, unlimited } from '../tests/support/cart.mjs';

/** A seeded generator (mulberry32), so a failing run can be repeated with its seed. */
function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** SIGKILLs the workerd processes of `server`'s process group; resolves to how many there were. */
function killWorkerd(server) {
  const ps = execFileSync('ps', ['-eo', 'pid=,pgid=,comm='], { encoding: 'utf8' });
  const pids = ps.split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([, pgid, comm]) => Number(pgid) === server.pgid && comm === 'workerd')
    .map(([pid]) => Number(pid));
  for (const pid of pids) process.kill(pid, 'SIGKILL');
  return pids.length;
}

/**
 * Runs `rounds` kill-and-restart rounds on `port`; resolves to one row per round. Throws if a round finds fewer
 * adds than were acknowledged.
 */
export async function runCrashLoop({ port, rounds, seed = 1, carts = 4, width = 8, log = () => {} }) {
  const random = seeded(seed);
  const ids = Array.from({ length: carts }, newCartId);
  const acked = new Map(ids.map((id) => [id, 0]));
  let server = await startServer({ port, env: unlimited });
  const persistTo = server.persistTo;
  const rows = [];
  let foundBefore = 0;
  try {
    for (let round = 1; round <= rounds; round++) {
      const agent = new http.Agent({ keepAlive: true, maxSockets: width });
      let running = true;
      let sent = 0;
      let ackedThisRound = 0;
      let firstAck;
      const acknowledged = new Promise((resolve) => { firstAck = resolve; });
      const writers = Array.from({ length: width }, async () => {
        while (running) {
          const id = ids[Math.floor(random() * carts)];
          sent++;
          const status = await send(agent, 'POST', `${server.url}/v1/carts/${id}/lines`, { sku: 'CRASH', qty: 1 });
          if (status === 200) {
            acked.set(id, acked.get(id) + 1);
            ackedThisRound++;
            firstAck();
          } else if (status === 0 || status >= 500) {
            return; // the server is going or gone: not acknowledged; this writer waits for the next round
          } else {
            throw new Error(`round ${round}: an add answered ${status}`);
          }
        }
      });
      // The kill comes at a random moment once writes are flowing (a cold object may take a while to answer).
      const killAfterMs = 300 + Math.floor(random() * 2700);
      await Promise.race([acknowledged, new Promise((r) => setTimeout(r, 60_000))]);
      await new Promise((r) => setTimeout(r, killAfterMs));
      const killed = killWorkerd(server);
      await server.stop('SIGKILL');
      running = false;
      await Promise.all(writers);
      agent.destroy();

      server = await startServer({ port, persistTo, env: unlimited });
      let found = 0;
      let lost = 0;
      for (const id of ids) {
        const view = (await call('GET', `/v1/carts/${id}`, { url: server.url })).body;
        const qty = view.lines.find((l) => l.sku === 'CRASH')?.qty ?? 0;
        found += qty;
        lost += Math.max(0, acked.get(id) - qty);
        // What landed without an answer counts as acknowledged from now on: it is in durable storage.
        acked.set(id, Math.max(acked.get(id), qty));
      }
      const landedUnacked = found - foundBefore - ackedThisRound;
      foundBefore = found;
      const row = { round, killAfterMs, workerdKilled: killed, sent, acked: ackedThisRound, landedUnacked, found, lost };
      rows.push(row);
      log(row);
      if (lost > 0) throw new Error(`round ${round}: ${lost} acknowledged adds lost (seed ${seed})`);
    }
  } finally {
    await server.stop();
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rounds = Number(process.env.CRASH_ROUNDS ?? 10);
  const seed = Number(process.env.CRASH_SEED ?? Date.now() % 100000);
  console.log(`crash loop: ${rounds} rounds, seed ${seed}, SIGKILL of workerd under 8 concurrent writers on 4 carts`);
  const rows = await runCrashLoop({ port: 8789, rounds, seed });
  console.log('\n| round | killed after ms | workerd processes killed | adds sent | acked (2xx) | in flight at the kill, landed | found in all carts after restart | lost |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(`| ${r.round} | ${r.killAfterMs} | ${r.workerdKilled} | ${r.sent} | ${r.acked} | ${r.landedUnacked} | ${r.found} | ${r.lost} |`);
  }
  const total = rows.reduce((s, r) => s + r.acked, 0);
  console.log(`\n${total} acknowledged adds over ${rounds} hard kills, lost ${rows.reduce((s, r) => s + r.lost, 0)}`);
}
