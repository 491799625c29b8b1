// The cart at first paint, before the wasm library has arrived: `bootCart()` returns at once a cart with the
// CartClient's interface. Until the library is ready it shows the last view this browser stored (LocalStorage
// `<prefix>:view`, written by this layer at idle and when the page is hidden) and takes edits: each is checked
// against the limits it can check (quantities, skus, 120 lines), shown at once, and recorded under
// `<prefix>:boot:<page id>`. Meanwhile the library is fetched and compiled (streaming); when it is ready it
// restores the cart from LocalStorage and the recorded edits are applied to it one by one, as ordinary edits
// made offline, before its first sync. A page closed before the library arrived leaves its edits recorded: the
// next page that loads the library applies them (a page's record is another page's to apply once that page has
// gone: it was hidden, or stopped writing for two minutes). Everything that needs the cart itself (login,
// checkout, undo of an edit made before this page) waits for the library or says NOT_READY.

const MAX_LINES = 120;
const MAX_QTY = 999;
const MAX_OPS = 250;
const SKU = /^[A-Za-z0-9._-]{1,64}$/;
/** A page's record of edits is adopted by other pages once it is this old (the page stopped, or was frozen). */
const ORPHAN_MS = 120_000;
const HEARTBEAT_MS = 30_000;
const VIEW_LAYOUT = 1;

const cartError = (code, message, index) =>
  Object.assign(new Error(message), { name: 'CartError', code }, index === undefined ? {} : { index });

const storage = () => {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
};
const read = (key) => {
  try {
    return JSON.parse(storage()?.getItem(key) ?? 'null');
  } catch {
    return null;
  }
};
const write = (key, value) => {
  try {
    storage()?.setItem(key, JSON.stringify(value));
    return true;
  } catch {
    return false;
  }
};
const remove = (key) => {
  try {
    storage()?.removeItem(key);
  } catch {}
};

const EMPTY = { lines: [], version: '', pending: 0, persisted: true, canUndo: false, upgradeRequired: false };

/** The view stored by the last page that had the library, if it is of a layout this code reads. */
function storedView(prefix) {
  const stored = read(`${prefix}:view`);
  return stored?.v === VIEW_LAYOUT && Array.isArray(stored.view?.lines) ? stored.view : EMPTY;
}

const qtyIn = (qty, min, i) => {
  if (!Number.isInteger(qty) || qty < min || qty > MAX_QTY) {
    throw cartError('INVALID_QUANTITY', `quantity ${qty} is out of range; allowed ${min}..=${MAX_QTY}`, i);
  }
  return qty;
};
const skuOf = (sku, i) => {
  if (typeof sku !== 'string' || !SKU.test(sku)) throw cartError('INVALID_SKU', `invalid sku: ${sku}`, i);
  return sku;
};

/**
 * `lines` (a Map by sku) after `ops`, all or nothing, with the rules of the library's batch(): each operation sees
 * the ones before it, and the limits hold for the result (a line above 999 is QUANTITY_LIMIT at the last add that
 * raised it, more than 120 lines CART_FULL at the operation that made the first line beyond them).
 */
function applied(lines, ops, now) {
  if (ops.length === 0 || ops.length > MAX_OPS) throw cartError(ops.length ? 'TOO_MANY_OPS' : 'INVALID_BODY', 'batch() needs 1-250 operations');
  const next = new Map(lines);
  const made = [];
  const lastAdd = new Map();
  const line = (sku, i) => {
    if (!next.has(sku)) {
      next.set(sku, { sku, qty: 0, selected: true, addedAt: now });
      made.push([i, sku]);
    }
    return next.get(sku);
  };
  ops.forEach((o, i) => {
    switch (o?.op) {
      case 'add': {
        const l = line(skuOf(o.sku, i), i);
        next.set(l.sku, { ...l, qty: l.qty + qtyIn(o.qty ?? 1, 1, i) });
        lastAdd.set(l.sku, i);
        break;
      }
      case 'set':
        skuOf(o.sku, i);
        if (qtyIn(o.qty, 0, i) === 0) next.delete(o.sku);
        else next.set(o.sku, { ...line(o.sku, i), qty: o.qty });
        break;
      case 'remove':
        next.delete(skuOf(o.sku, i));
        break;
      case 'select': {
        const l = next.get(skuOf(o.sku, i));
        if (!l) throw cartError('LINE_NOT_FOUND', `the cart has no line for sku "${o.sku}"`, i);
        next.set(o.sku, { ...l, selected: o.selected === true });
        break;
      }
      case 'selectAll':
        for (const l of next.values()) next.set(l.sku, { ...l, selected: o.selected === true });
        break;
      case 'clear':
        next.clear();
        break;
      default:
        throw cartError('INVALID_BODY', `unknown operation ${o?.op}`, i);
    }
  });
  for (const [sku, l] of next) {
    if (l.qty > MAX_QTY) throw cartError('QUANTITY_LIMIT', `the line for ${sku} would exceed ${MAX_QTY}`, lastAdd.get(sku));
  }
  const kept = made.filter(([, sku]) => next.has(sku) && !lines.has(sku));
  if (next.size > MAX_LINES && kept.length) {
    const [index] = kept[Math.max(0, kept.length - (next.size - MAX_LINES))];
    throw cartError('CART_FULL', `the cart already holds ${MAX_LINES} lines`, index);
  }
  return next;
}

const same = (a, b) => a.size === b.size && [...a.values()].every((l) => b.get(l.sku)?.qty === l.qty && b.get(l.sku).selected === l.selected);
const lowers = (before, after) => [...before.values()].some((l) => (after.get(l.sku)?.qty ?? 0) < l.qty);

const freeze = (view) => Object.freeze({ ...view, lines: Object.freeze(view.lines.map((l) => Object.freeze({ ...l }))) });

/** Runs `f` when the page is idle (or soon, where there is no requestIdleCallback). */
const idle = (f) => (globalThis.requestIdleCallback ? requestIdleCallback(f, { timeout: 2000 }) : setTimeout(f, 200));

class BootedCart {
  #prefix;
  #events = new EventTarget();
  #client = null;
  #base;
  #ops = [];
  /** What this page's record held when last written: ops adopted by another page from then on are not ours. */
  #written = 0;
  #key;
  #view;
  /** The lines before this page's last removal, which undo() brings back (the library's rule), or null. */
  #undoFrom = null;
  #wanted;
  #options;
  #viewDue = false;
  #stop = [];

  constructor(baseUrl, options, load) {
    this.#options = options;
    this.#prefix = options?.storageKey ?? 'edge-cart';
    this.#key = `${this.#prefix}:boot:${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
    this.#base = storedView(this.#prefix);
    this.#render();
    const on = (target, kind, f) => {
      target?.addEventListener?.(kind, f);
      this.#stop.push(() => target?.removeEventListener?.(kind, f));
    };
    on(globalThis, 'storage', (e) => {
      if (!this.#client && e.key === `${this.#prefix}:view`) {
        this.#base = storedView(this.#prefix);
        this.#changed();
      }
    });
    // A hidden page may never run again: its edits become another page's to apply, unless it comes back first.
    on(globalThis, 'pagehide', () => this.#hidden());
    on(globalThis.document, 'visibilitychange', () => (document.visibilityState === 'hidden' ? this.#hidden() : this.#record()));
    on(globalThis, 'pageshow', (e) => e.persisted && this.#record());
    const beat = setInterval(() => this.#ops.length && this.#record(), HEARTBEAT_MS);
    beat.unref?.();
    this.#stop.push(() => clearInterval(beat));
    this.ready = this.#start(baseUrl, options, load);
    this.ready.catch(() => {});
  }

  async #start(baseUrl, options, load) {
    for (let attempt = 0; ; attempt++) {
      try {
        const client = await load({ ...options, autoConnect: false });
        this.#adopt(client, options);
        return client;
      } catch (e) {
        this.#emit('error', cartError('LIBRARY_UNAVAILABLE', `the cart library could not load: ${e?.message ?? e}; edits are kept and applied when it does`));
        // Try again when the network comes back, or after a while.
        await new Promise((resolve) => {
          const t = setTimeout(resolve, Math.min(30_000, 1000 * 2 ** attempt));
          globalThis.addEventListener?.('online', () => { clearTimeout(t); resolve(); }, { once: true });
        });
      }
    }
  }

  /** Hands over to the library: applies this page's recorded edits and the ones of pages that have gone. */
  #adopt(client, options) {
    const mine = this.#mine();
    const gone = [];
    const s = storage();
    for (let i = 0; s && i < s.length; i++) {
      const key = s.key(i);
      if (key?.startsWith(`${this.#prefix}:boot:`) && key !== this.#key) {
        const record = read(key);
        if (!record || !(record.t <= Date.now() - ORPHAN_MS) || !Array.isArray(record.ops)) continue;
        gone.push(key);
        mine.unshift(...record.ops);
      }
    }
    gone.forEach(remove);
    remove(this.#key);
    this.#client = client;
    for (const { at, ...op } of mine) {
      try {
        client.batch([op]);
      } catch (e) {
        this.#emit('error', e);
      }
    }
    this.#ops = [];
    for (const kind of ['change', 'status', 'error']) {
      const f = (e) => {
        if (kind !== 'error') this.#viewChanged();
        this.#emit(kind, e.detail);
      };
      client.addEventListener(kind, f);
      this.#stop.push(() => client.removeEventListener(kind, f));
    }
    if (this.#online()) client.connect();
    this.#viewChanged();
    this.#emit('change', client.view());
  }

  /** This page's edits that are still its own: those another page adopted (its record is gone) are not. */
  #mine() {
    return this.#ops.slice(this.#adopted());
  }

  #adopted() {
    return this.#written > 0 && storage() && storage().getItem(this.#key) === null ? this.#written : 0;
  }

  #online() {
    return this.#wanted ?? this.#options?.autoConnect !== false;
  }

  #record() {
    if (this.#client) return;
    const gone = this.#adopted();
    if (gone) {
      this.#ops = this.#ops.slice(gone);
      this.#undoFrom = null;
    }
    if (this.#ops.length === 0) return remove(this.#key), (this.#written = 0);
    if (write(this.#key, { t: Date.now(), ops: this.#ops })) this.#written = this.#ops.length;
  }

  #hidden() {
    if (this.#client) return this.#saveView();
    this.#record();
    if (this.#ops.length) write(this.#key, { t: 0, ops: this.#ops });
  }

  #viewChanged() {
    if (this.#viewDue) return;
    this.#viewDue = true;
    idle(() => this.#saveView());
  }

  #saveView() {
    this.#viewDue = false;
    const view = this.#client?.view();
    if (view) write(`${this.#prefix}:view`, { v: VIEW_LAYOUT, view });
  }

  #lines(ops) {
    let lines = new Map(this.#base.lines.map((l) => [l.sku, l]));
    for (const op of ops) {
      try {
        lines = applied(lines, [op], op.at);
      } catch {}
    }
    return lines;
  }

  #render() {
    const lines = [...this.#lines(this.#ops).values()].sort((a, b) => a.addedAt - b.addedAt);
    const { cartId, userId, version, persisted, upgradeRequired } = this.#base;
    const online = globalThis.navigator?.onLine !== false && this.#online();
    this.#view = freeze({
      ...(cartId === undefined ? {} : { cartId }),
      ...(userId === undefined ? {} : { userId }),
      lines,
      lineCount: lines.length,
      itemCount: lines.reduce((n, l) => n + l.qty, 0),
      version,
      status: online ? 'connecting' : 'offline',
      pending: this.#base.pending + this.#ops.length,
      persisted,
      canUndo: this.#undoFrom !== null,
      upgradeRequired,
    });
  }

  #changed() {
    this.#render();
    this.#emit('change', this.#view);
  }

  #emit(kind, detail) {
    this.#events.dispatchEvent(new CustomEvent(kind, { detail }));
  }

  /** One edit: the library's `method` once it is ready, else `ops` checked, shown and recorded. */
  #edit(method, args, ops, removal) {
    if (this.#client) return this.#client[method](...args);
    if (this.#base.upgradeRequired) throw cartError('UPGRADE_REQUIRED', 'this cart needs a newer version of the cart library; nothing was changed');
    if (this.#adopted()) this.#record();
    const before = this.#lines(this.#ops);
    const at = Date.now();
    const after = applied(before, ops, at);
    // Like the library, an edit that changes nothing records nothing.
    if (same(before, after)) return;
    // A batch is recorded as its operations, each applied on its own later: the checks above held for them together.
    this.#ops.push(...ops.map((o) => ({ ...o, at })));
    if (removal ?? lowers(before, after)) this.#undoFrom = before;
    this.#record();
    this.#changed();
  }

  #needs(what) {
    if (!this.#client) throw cartError('NOT_READY', `${what} needs the cart library, which is still loading (await cart.ready)`);
    return this.#client;
  }

  /** The library's CartClient once it is ready, else null. */
  get client() {
    return this.#client;
  }

  view() {
    return this.#client ? this.#client.view() : this.#view;
  }

  add(sku, qty) {
    this.#edit('add', [sku, qty], [{ op: 'add', sku, qty: qty ?? 1 }], false);
  }

  setQuantity(sku, qty) {
    this.#edit('setQuantity', [sku, qty], [{ op: 'set', sku, qty }], qty === 0);
  }

  setSelected(sku, selected) {
    this.#edit('setSelected', [sku, selected], [{ op: 'select', sku, selected }], false);
  }

  selectAll(selected) {
    this.#edit('selectAll', [selected], [{ op: 'selectAll', selected }], false);
  }

  remove(sku) {
    this.#edit('remove', [sku], [{ op: 'remove', sku }], true);
  }

  clear() {
    this.#edit('clear', [], [{ op: 'clear' }], true);
  }

  batch(ops) {
    this.#edit('batch', [ops], Array.isArray(ops) ? ops : [], undefined);
  }

  /**
   * Undoes the last removal: the library's, or before it is ready, this page's last one, by the library's rule:
   * each line of the cart before it that holds less now gets the difference added (and its selection back), as
   * ordinary edits; a line that no longer fits is left out. Returns the skus brought back.
   */
  undo() {
    if (this.#client) return this.#client.undo();
    const then = this.#undoFrom;
    this.#undoFrom = null;
    const restored = [];
    for (const line of then?.values() ?? []) {
      const now = this.#lines(this.#ops).get(line.sku)?.qty ?? 0;
      if (now >= line.qty) continue;
      const ops = [{ op: 'add', sku: line.sku, qty: line.qty - now }, ...(line.selected ? [] : [{ op: 'select', sku: line.sku, selected: false }])];
      try {
        applied(this.#lines(this.#ops), ops.slice(0, 1), 0);
      } catch {
        continue;
      }
      const at = Date.now();
      this.#ops.push(...ops.map((o) => ({ ...o, at })));
      restored.push(line.sku);
    }
    this.#record();
    this.#changed();
    return restored;
  }

  connect() {
    this.#wanted = true;
    this.#client ? this.#client.connect() : this.#changed();
  }

  disconnect() {
    this.#wanted = false;
    this.#client ? this.#client.disconnect() : this.#changed();
  }

  get token() {
    return this.#client?.token;
  }

  get cartPath() {
    return this.#client?.cartPath;
  }

  login(token, policy) {
    return this.#needs('login()').login(token, policy);
  }

  setToken(token) {
    return this.#needs('setToken()').setToken(token);
  }

  async logout(timeoutMs) {
    return (await this.ready).logout(timeoutMs);
  }

  async flush(timeoutMs) {
    return (await this.ready).flush(timeoutMs);
  }

  async priced(timeoutMs) {
    return (await this.ready).priced(timeoutMs);
  }

  async checkout(options) {
    return (await this.ready).checkout(options);
  }

  async share() {
    return (await this.ready).share();
  }

  addEventListener(kind, listener) {
    this.#events.addEventListener(kind, listener);
  }

  removeEventListener(kind, listener) {
    this.#events.removeEventListener(kind, listener);
  }

  /** Stops listening and frees the library's client. */
  free() {
    this.#stop.forEach((f) => f());
    this.#client?.free();
    this.#client = null;
  }
}

/**
 * A cart for the API at `baseUrl` that works at once: the options are CartClient's. `load` (for tests and
 * bundlers that place the wasm themselves) makes the library's client; by default this module imports
 * `./cart_client.js` and compiles its wasm, streaming, from `wasm` (default: next to it).
 */
export function bootCart(baseUrl, options = {}, { wasm, load } = {}) {
  const loader = load ?? (async (opts) => {
    const lib = await import('./cart_client.js');
    await lib.default(wasm === undefined ? undefined : { module_or_path: wasm });
    return new lib.CartClient(baseUrl, opts);
  });
  return new BootedCart(baseUrl, options, loader);
}
