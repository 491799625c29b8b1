// An independent Automerge peer (the official JS implementation, npm @automerge/automerge) syncing a cart over the
// worker's WebSocket or HTTP sync route: proof that the standard protocol is spoken.
import * as A from '@automerge/automerge';
import { base } from './cart.mjs';

/**
 * An add as the cart layout (core/src/schema.rs) stores it: a scalar string "<n> <sku>" (the core writes a bare
 * "<sku>" when n is 1; both are read). Automerge 3's JS API turns plain strings into collaborative text, which the
 * cart ignores, so it must be an ImmutableString.
 */
export const addEntry = (n, sku) => new A.ImmutableString(`${n} ${sku}`);

/**
 * Quantity of `sku` in an Automerge cart document, read the way the core reads it: the base value holds the
 * quantity last set plus 1000 times the sum of the adds that set had seen; adds it had not seen come on top. Carts
 * without login merges only: layout 3's merge records (core/src/records.rs) are not read here.
 */
export function qtyOf(doc, sku) {
  const n = (v) => Number(v ?? 0);
  const base = n(doc.base?.[sku]);
  const [set, seen] = [base % 1000, Math.floor(base / 1000)];
  let adds = 0;
  for (const entry of doc.adds ?? []) {
    if (!(entry instanceof A.ImmutableString)) continue;
    const parts = entry.val.split(' ');
    const [count, s] = parts.length === 1 ? [1, parts[0]] : parts;
    if (s === sku) adds += n(count);
  }
  let q = set + Math.max(0, adds - seen);
  for (const [key, v] of Object.entries(doc.merges ?? {})) {
    if (key.split('/')[0] === sku) q += n(v);
  }
  return Math.min(q, 999);
}

export const heads = (doc) => A.getHeads(doc).slice().sort();

/** The cart layout these peers write (core/src/schema.rs `LAYOUT`); the sync routes refuse a replica announcing less. */
export const LAYOUT = 3;

/** `path` with `layout=LAYOUT` announced, unless it announces one already. */
export function withLayout(path) {
  if (/[?&]layout=/.test(path)) return path;
  return `${path}${path.includes('?') ? '&' : '?'}layout=${LAYOUT}`;
}

/** A peer connected to a cart's WebSocket sync route. */
export class SocketPeer {
  constructor(path) {
    this.doc = A.init();
    this.state = A.initSyncState();
    this.closed = null;
    this.listeners = new Set();
    this.ws = new WebSocket(`${base.replace(/^http/, 'ws')}${withLayout(path)}`);
    this.ws.binaryType = 'arraybuffer';
    this.opened = new Promise((resolve, reject) => {
      this.ws.addEventListener('open', resolve, { once: true });
      this.ws.addEventListener('error', reject, { once: true });
    });
    this.ws.addEventListener('message', (event) => {
      if (typeof event.data === 'string') return;
      [this.doc, this.state] = A.receiveSyncMessage(this.doc, this.state, new Uint8Array(event.data));
      this.flush();
      for (const f of this.listeners) f();
    });
    this.closedPromise = new Promise((resolve) => {
      this.ws.addEventListener('close', (event) => {
        this.closed = { code: event.code, reason: event.reason };
        resolve(this.closed);
      });
    });
  }

  /** Sends whatever the server still lacks. */
  flush() {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    for (;;) {
      const [state, message] = A.generateSyncMessage(this.doc, this.state);
      this.state = state;
      if (!message) return;
      this.ws.send(message);
    }
  }

  /** A local edit, then sync. */
  change(fn) {
    this.doc = A.change(this.doc, fn);
    this.flush();
  }

  /** Resolves when `predicate(doc)` holds, or rejects after `ms`. */
  until(predicate, ms = 10_000) {
    if (predicate(this.doc)) return Promise.resolve(this.doc);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        reject(new Error('timed out waiting for the document'));
      }, ms);
      const check = () => {
        if (predicate(this.doc)) {
          clearTimeout(timer);
          this.listeners.delete(check);
          resolve(this.doc);
        }
      };
      this.listeners.add(check);
    });
  }

  close() {
    this.ws.close();
  }
}

/** Syncs `doc` with the cart over the one-shot HTTP route until neither side has anything to say. */
export async function httpSync(path, doc, state = A.initSyncState()) {
  for (let round = 0; round < 20; round++) {
    let message;
    [state, message] = A.generateSyncMessage(doc, state);
    if (!message) return { doc, state, rounds: round };
    const res = await fetch(`${base}${withLayout(path)}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: message });
    if (res.status !== 200) throw new Error(`sync answered ${res.status}: ${await res.text()}`);
    const reply = new Uint8Array(await res.arrayBuffer());
    if (reply.length) [doc, state] = A.receiveSyncMessage(doc, state, reply);
  }
  throw new Error('HTTP sync did not settle in 20 rounds');
}

export { A };
