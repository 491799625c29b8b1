// Helpers shared by the integration tests: the server under test, ids, requests, tokens.
import { createHmac, randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const base = process.env.CART_BASE_URL ?? 'http://127.0.0.1:8799';
/** The server's current shared secret, and the previous one it still accepts (CART_JWT_SECRET holds both). */
export const [secret, previousSecret] = (process.env.CART_JWT_SECRET ?? '').split(/\s+/);

/** Server variables that lift the write rate limits, for tests that measure something else. */
export const unlimited = {
  CART_VARS: 'CART_WRITE_BURST:1000000000 CART_WRITES_PER_SECOND:1000000000 CLIENT_WRITE_BURST:1000000000 CLIENT_WRITES_PER_SECOND:1000000000 CLIENT_READ_BURST:1000000000 CLIENT_READS_PER_SECOND:1000000000',
};

/** A fresh guest cart id: 128 random bits, base64url (22 characters). */
export const newCartId = () => randomBytes(16).toString('base64url');

/** A unique user id for one test. */
export const newUserId = (label = 'user') => `${label}-${randomBytes(6).toString('hex')}`;

/** fetch with a JSON body; returns { status, headers, body } with body parsed when it is JSON. */
/**
 * Every error any test provokes is checked here: a coded JSON body whose message is real text. (The shipped worker
 * once compiled Debug formatting out, which blanked parts of messages: " is not allowed here".)
 */
export function checkErrorBody(status, body, what) {
  const error = body?.error;
  if (!error || typeof error.code !== 'string' || !/^[A-Z][A-Z0-9_]+$/.test(error.code)) {
    throw new Error(`${what}: ${status} without a coded error body: ${JSON.stringify(body)}`);
  }
  const message = error.message;
  // Blanked formatting shows as a message that starts or ends with a space or holds two in a row (" is not allowed
  // here"); echoed values such as `{}` are content.
  if (typeof message !== 'string' || message.length < 8 || /^\s|\s$|\s\s/.test(message)) {
    throw new Error(`${what}: ${status} ${error.code} has a blank or broken message: ${JSON.stringify(message)}`);
  }
}

export async function call(method, path, { json, body, headers = {}, token, url = base } = {}) {
  const init = { method, headers: { ...headers } };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers['content-type'] ??= 'application/json';
  } else if (body !== undefined) {
    init.body = body;
  }
  if (token) init.headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${url}${path}`, init);
  const text = await res.text();
  let parsed = text;
  if ((res.headers.get('content-type') ?? '').includes('application/json') && text) parsed = JSON.parse(text);
  if (res.status >= 400) checkErrorBody(res.status, parsed, `${method} ${path}`);
  return { status: res.status, headers: res.headers, body: parsed };
}

/**
 * Sends JSON with node:http through `agent` (so tests control how many connections carry the load) and resolves
 * to the status code, or 0 when the connection failed (the server died mid-request: not acknowledged).
 */
export function send(agent, method, url, json) {
  return new Promise((resolve) => {
    const body = JSON.stringify(json);
    const req = http.request(url, {
      method,
      agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      // A connection cut mid-body emits no 'end' and no request error: that reply was not acknowledged.
      res.on('close', () => resolve(res.complete ? res.statusCode : 0));
      res.on('error', () => resolve(0));
    });
    req.setTimeout(60_000, () => req.destroy(new Error('timed out')));
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

/** Signs an HS256 JWT with the test server's key (or another). */
export function sign(claims, key = secret, header = { alg: 'HS256', typ: 'JWT' }) {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const unsigned = `${enc(header)}.${enc(claims)}`;
  const sig = createHmac('sha256', key).update(unsigned).digest('base64url');
  return `${unsigned}.${sig}`;
}

/** A valid token for `sub`, for an hour. */
export const tokenFor = (sub) => sign({ sub, exp: Math.floor(Date.now() / 1000) + 3600 });

/** Waits until `url/health` answers, or throws after `ms`. */
export async function waitForHealth(url, ms = 180_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no answer from ${url}/health`);
}

/** Resolves once `port` can be bound on 127.0.0.1 the way workerd binds it, or throws after `ms`. */
export async function waitForFreePort(port, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const error = await new Promise((resolve) => {
      const probe = net.createServer();
      probe.once('error', resolve);
      probe.listen({ port, host: '127.0.0.1', exclusive: true }, () => probe.close(() => resolve(null)));
    });
    if (!error) return;
    if (Date.now() > deadline) throw new Error(`port ${port} is still taken: ${error.message}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Spawns scripts/dev.sh once and waits for health; rejects early when wrangler exits or cannot listen. */
async function spawnServer(port, persistTo, env) {
  const child = spawn('bash', ['scripts/dev.sh'], {
    env: { ...process.env, PORT: String(port), PERSIST_TO: persistTo, ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  let failed;
  const failure = new Promise((_, reject) => { failed = reject; });
  const onData = (d) => {
    log += d;
    // Wrangler logs a taken port and then waits for file changes instead of exiting.
    if (log.includes('Address already in use')) failed(Object.assign(new Error(`port ${port} was taken`), { taken: true }));
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => {
    failed(new Error(`scripts/dev.sh exited (${code ?? signal}) before it answered`));
    resolve();
  }));
  const url = `http://127.0.0.1:${port}`;
  try {
    await Promise.race([waitForHealth(url), failure]);
  } catch (e) {
    try { process.kill(-child.pid, 'SIGKILL'); } catch {}
    await exited;
    // The end of the log says why; its start is only the build banner.
    throw Object.assign(new Error(`${e.message}: ${url}\n${log.slice(-4000)}`), { taken: e.taken });
  }
  failure.catch(() => {});
  return {
    url,
    persistTo,
    /** The process group: wrangler, its workerd and helpers. */
    pgid: child.pid,
    log: () => log,
    async stop(signal = 'SIGTERM') {
      try { process.kill(-child.pid, signal); } catch {}
      const timer = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch {} }, 5000);
      await exited;
      clearTimeout(timer);
      // workerd may outlive wrangler for a moment; wait until the port is free.
      await waitForFreePort(port).catch(() => {});
    },
  };
}

/**
 * Starts a separate `wrangler dev` (the project's own scripts/dev.sh) on `port`, with storage in `persistTo`.
 * Returns { url, persistTo, log, stop(signal) }; stop kills the whole process group and waits for the port.
 */
export async function startServer({ port, persistTo = mkdtempSync(join(tmpdir(), 'cart-')), env = {} }) {
  for (let attempt = 1; ; attempt++) {
    // A server stopped a moment ago may still hold the port while its workerd dies.
    await waitForFreePort(port);
    try {
      return await spawnServer(port, persistTo, env);
    } catch (e) {
      if (!e.taken || attempt === 3) throw e;
    }
  }
}

/** The status and JSON body a WebSocket upgrade of `path` is answered with (101 when it was accepted). */
export function upgradeAnswer(path, url = base) {
  return new Promise((resolve, reject) => {
    const req = http.get(`${url}${path}`, {
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': randomBytes(16).toString('base64') },
    });
    req.on('upgrade', (res, socket) => { socket.destroy(); resolve({ status: 101 }); });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, body: text ? JSON.parse(text) : null, headers: res.headers }));
    });
    req.on('error', reject);
  });
}

/**
 * Counts the requests this process starts from now on (every `fetch` call and every `WebSocket` opened), until
 * `stop()`, which restores both and returns the count: to show a client library tries nothing.
 */
export function countRequests() {
  const { fetch: realFetch, WebSocket: RealWebSocket } = globalThis;
  let count = 0;
  globalThis.fetch = (...args) => { count++; return realFetch(...args); };
  globalThis.WebSocket = class extends RealWebSocket {
    constructor(...args) { super(...args); count++; }
  };
  return { stop() { globalThis.fetch = realFetch; globalThis.WebSocket = RealWebSocket; return count; } };
}
