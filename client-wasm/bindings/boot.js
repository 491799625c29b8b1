// The cart at first paint, before the wasm library has arrived: `bootCart()` returns at once a cart with the
// CartClient's interface. Until the library is ready it shows the last view this browser stored (LocalStorage
// `<prefix>:view`, written by this layer at idle and when the page is hidden) and takes edits: each is checked
// against the limits it can check (quantities, skus, 120 lines), shown at once, and recorded under
// `<prefix>:boot:<page id>`. Meanwhile the library is fetched and compiled (streaming); when it is ready it
// restores the cart from LocalStorage and the recorded edits are applied to it in the order they were made, each
// as one `batch()` (a batch made here is applied whole, as it was checked), as ordinary edits made offline, before
// its first sync. The edits other pages of this browser recorded and have not applied yet are shown too. A page closed before the library arrived leaves its edits recorded: the
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
  const view = stored?.v === VIEW_LAYOUT ? stored.view : null;
  const lineOk = (l) => typeof l?.sku === 'string' && SKU.test(l.sku) && Number.isInteger(l.qty) && l.qty > 0
    && typeof l.selected === 'boolean' && Number.isFinite(l.addedAt);
  if (!Array.isArray(view?.lines) || !view.lines.every(lineOk)) return EMPTY;
  return { ...EMPTY, ...view, pending: Number.isInteger(view.pending) ? view.pending : 0 };
}

/** The edits of a stored record, oldest first: `{at, ops}` each (a record of 60e1ac6 held single ops). */
function recordEdits(record) {
  const ok = (e) => Number.isFinite(e?.at) && Array.isArray(e.ops) && e.ops.length > 0;
  if (Array.isArray(record?.edits)) return record.edits.filter(ok);
  if (Array.isArray(record?.ops)) {
    return record.ops.filter((o) => typeof o === 'object' && o !== null).map(({ at, ...op }) => ({ at, ops: [op] })).filter(ok);
  }
  return [];
}
const byTime = (a, b) => a.at - b.at;

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

/** What each operation takes besides `op` (`add`'s `qty` is optional), as the library's batch() reads them. */
const SHAPES = { add: ['sku'], set: ['sku', 'qty'], remove: ['sku'], select: ['sku', 'selected'], selectAll: ['selected'], clear: [] };

/**
 * Operation `o` (at `i`) read as the library reads a batch's operations, all of them before any applies: the same
 * codes in the same order (a malformed operation INVALID_BODY, then INVALID_SKU, then INVALID_QUANTITY).
 */
function readOp(o, i) {
  const bad = (message) => cartError('INVALID_BODY', message, i);
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw bad('an operation is an object');
  for (const key of Object.keys(o)) {
    if (!['op', 'sku', 'qty', 'selected'].includes(key)) throw bad(`unknown member "${key}"`);
  }
  const has = (key) => o[key] !== undefined;
  if (!has('op')) throw bad('op is required');
  if (typeof o.op !== 'string') throw bad('op must be a string');
  if (has('sku') && typeof o.sku !== 'string') throw bad('sku must be a string');
  if (has('selected') && typeof o.selected !== 'boolean') throw bad('selected must be true or false');
  const want = Object.hasOwn(SHAPES, o.op) ? SHAPES[o.op] : null;
  if (!want) throw bad(`unknown op "${o.op}": add, set, remove, select, selectAll or clear`);
  for (const key of ['sku', 'qty', 'selected']) {
    if (has(key) && !want.includes(key) && !(key === 'qty' && o.op === 'add')) throw bad(`"${o.op}" takes no "${key}"`);
    if (!has(key) && want.includes(key)) throw bad(`"${o.op}" needs "${key}"`);
  }
  const op = { op: o.op };
  if (has('sku')) op.sku = skuOf(o.sku, i);
  if (o.op === 'add') op.qty = qtyIn(has('qty') ? o.qty : 1, 1, i);
  if (o.op === 'set') op.qty = qtyIn(o.qty, 0, i);
  if (has('selected')) op.selected = o.selected;
  return op;
}

/**
 * `lines` (a Map by sku) after `ops` (read by readOp), all or nothing, with the rules of the library's batch(): each operation sees
 * the ones before it, and the limits hold for the result (a line above 999 is QUANTITY_LIMIT at the last add that
 * raised it, more than 120 lines CART_FULL at the operation that made the first line beyond them).
 */
function applied(lines, ops, now) {
  if (ops.length === 0 || ops.length > MAX_OPS) throw cartError(ops.length ? 'TOO_MANY_OPS' : 'INVALID_BODY', 'batch() needs 1-250 operations');
  const next = new Map(lines);
  /** sku -> the index of the operation that last created its line. */
  const made = new Map();
  const lastAdd = new Map();
  const line = (sku, i) => {
    if (!next.has(sku)) {
      next.set(sku, { sku, qty: 0, selected: true, addedAt: now });
      made.set(sku, i);
    }
    return next.get(sku);
  };
  ops.forEach((o, i) => {
    switch (o.op) {
      case 'add': {
        const l = line(o.sku, i);
        next.set(l.sku, { ...l, qty: l.qty + o.qty });
        lastAdd.set(l.sku, i);
        break;
      }
      case 'set':
        if (o.qty === 0) next.delete(o.sku);
        else next.set(o.sku, { ...line(o.sku, i), qty: o.qty });
        break;
      case 'remove':
        next.delete(o.sku);
        break;
      case 'select': {
        const l = next.get(o.sku);
        if (!l) throw cartError('LINE_NOT_FOUND', `the cart has no line for sku "${o.sku}"`, i);
        next.set(o.sku, { ...l, selected: o.selected });
        break;
      }
      case 'selectAll':
        for (const l of next.values()) next.set(l.sku, { ...l, selected: o.selected });
        break;
      case 'clear':
        next.clear();
        break;
    }
  });
  // The library's limits: QUANTITY_LIMIT at the first of the last adds that took a line over 999; CART_FULL at the
  // new line (counted once, at its last creation) that went beyond 120, for a batch that creates lines.
  const over = [...next].filter(([, l]) => l.qty > MAX_QTY).map(([sku]) => lastAdd.get(sku)).sort((a, b) => a - b);
  if (over.length) throw cartError('QUANTITY_LIMIT', `a line would exceed ${MAX_QTY}`, over[0]);
  const created = [...made].filter(([sku]) => next.has(sku) && !lines.has(sku)).map(([, i]) => i).sort((a, b) => a - b);
  const kept = [...lines.keys()].filter((sku) => next.has(sku)).length;
  if (created.length && kept + created.length > MAX_LINES) {
    throw cartError('CART_FULL', `the cart already holds ${MAX_LINES} lines`, created[Math.max(0, MAX_LINES - kept)]);
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
  /** This page's edits, oldest first: `{at, ops}` each (one call, a batch whole). */
  #ops = [];
  /** Other pages' recorded edits (shown, theirs to apply while they live), by record key. */
  #others = new Map();
  /** What this page's record held when last written: edits adopted by another page from then on are not ours. */
  #written = 0;
  #hiddenNow = false;
  #freed = false;
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
    this.#readOthers();
    this.#render();
    const on = (target, kind, f) => {
      target?.addEventListener?.(kind, f);
      this.#stop.push(() => target?.removeEventListener?.(kind, f));
    };
    on(globalThis, 'storage', (e) => {
      if (this.#client) return;
      if (e.key === `${this.#prefix}:view`) this.#base = storedView(this.#prefix);
      else if (e.key === null || e.key?.startsWith(`${this.#prefix}:boot:`)) this.#readOthers();
      else return;
      this.#changed();
    });
    // A hidden page may never run again: its edits become another page's to apply, unless it comes back first.
    on(globalThis, 'pagehide', () => this.#hidden());
    on(globalThis.document, 'visibilitychange', () => (document.visibilityState === 'hidden' ? this.#hidden() : this.#shown()));
    on(globalThis, 'pageshow', (e) => e.persisted && this.#shown());
    const beat = setInterval(() => this.#ops.length && this.#record(), HEARTBEAT_MS);
    beat.unref?.();
    this.#stop.push(() => clearInterval(beat));
    this.ready = this.#start(baseUrl, options, load);
    this.ready.catch(() => {});
  }

  async #start(baseUrl, options, load) {
    for (let attempt = 0; ; attempt++) {
      let client;
      try {
        client = await load({ ...options, autoConnect: false });
      } catch (e) {
        if (this.#freed) throw cartError('FREED', 'free() was called before the cart library arrived');
        this.#emit('error', cartError('LIBRARY_UNAVAILABLE', `the cart library could not load: ${e?.message ?? e}; edits are kept and applied when it does`));
        // Try again when the network comes back, or after a while (or stop, once freed).
        await new Promise((resolve) => {
          const done = () => {
            clearTimeout(t);
            globalThis.removeEventListener?.('online', done);
            this.#stop.splice(this.#stop.indexOf(done) >>> 0, 1);
            resolve();
          };
          const t = setTimeout(done, Math.min(30_000, 1000 * 2 ** attempt));
          t.unref?.();
          globalThis.addEventListener?.('online', done);
          this.#stop.push(done);
        });
        if (this.#freed) throw cartError('FREED', 'free() was called before the cart library arrived');
        continue;
      }
      if (this.#freed) {
        client.free();
        throw cartError('FREED', 'free() was called before the cart library arrived');
      }
      this.#adopt(client);
      return client;
    }
  }

  /**
   * Hands over to the library: applies this page's recorded edits and the ones of pages that have gone, in the
   * order they were made. The records are removed first, so nothing here can apply an edit twice.
   */
  #adopt(client) {
    const edits = this.#mine();
    for (const [key, record] of this.#records()) {
      if (!(record?.t <= Date.now() - ORPHAN_MS)) continue;
      edits.push(...recordEdits(record));
      remove(key);
    }
    remove(this.#key);
    this.#ops = [];
    this.#others.clear();
    this.#written = 0;
    this.#client = client;
    for (const { ops } of edits.sort(byTime)) {
      try {
        client.batch(ops);
      } catch (e) {
        this.#emit('error', e);
      }
    }
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

  /** Every other page's record of this cart prefix: [key, record]. */
  #records() {
    const found = [];
    const s = storage();
    for (let i = 0; s && i < s.length; i++) {
      const key = s.key(i);
      if (key?.startsWith(`${this.#prefix}:boot:`) && key !== this.#key) found.push([key, read(key)]);
    }
    return found;
  }

  #readOthers() {
    this.#others = new Map(this.#records().map(([key, record]) => [key, recordEdits(record)]));
  }

  #online() {
    return this.#wanted ?? this.#options?.autoConnect !== false;
  }

  /** Writes this page's record: `t` is its heartbeat, 0 while the page is hidden (adoptable at once). */
  #record() {
    if (this.#client) return;
    const gone = this.#adopted();
    if (gone) {
      this.#ops = this.#ops.slice(gone);
      this.#written = 0;
      this.#undoFrom = null;
    }
    if (this.#ops.length === 0) return remove(this.#key), (this.#written = 0);
    if (write(this.#key, { t: this.#hiddenNow ? 0 : Date.now(), edits: this.#ops })) this.#written = this.#ops.length;
  }

  #hidden() {
    this.#hiddenNow = true;
    if (this.#client) return this.#saveView();
    this.#record();
  }

  #shown() {
    this.#hiddenNow = false;
    this.#record();
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

  /** Every edit not in the stored view yet, oldest first: other pages' and this page's. */
  #edits() {
    return [...this.#others.values()].flat().concat(this.#ops).sort(byTime);
  }

  /** The lines of the stored view after `edits` (each all or nothing; one the view refuses now is left out). */
  #lines(edits = this.#edits()) {
    let lines = new Map(this.#base.lines.map((l) => [l.sku, l]));
    for (const { at, ops } of edits) {
      try {
        lines = applied(lines, ops.map(readOp), at);
      } catch {}
    }
    return lines;
  }

  #render() {
    const edits = this.#edits();
    const lines = [...this.#lines(edits).values()].sort((a, b) => a.addedAt - b.addedAt);
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
      pending: this.#base.pending + edits.length,
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

  /**
   * One edit: the library's `method` once it is ready, else `ops` checked, shown and recorded as one edit. A
   * single method's error has no `index` (as the library's); a batch's says which operation.
   */
  #edit(method, args, ops, removal) {
    if (this.#client) return this.#client[method](...args);
    if (this.#base.upgradeRequired) throw cartError('UPGRADE_REQUIRED', 'this cart needs a newer version of the cart library; nothing was changed');
    if (this.#adopted()) this.#record();
    const before = this.#lines();
    const at = Date.now();
    let read, after;
    try {
      // Too many operations is refused before any is read, as the library does.
      read = ops.length > MAX_OPS ? ops : ops.map(readOp);
      after = applied(before, read, at);
    } catch (e) {
      if (method !== 'batch') delete e.index;
      throw e;
    }
    // Like the library, an edit that changes nothing records nothing.
    if (same(before, after)) return;
    // Recorded whole and applied later as one batch(): the checks above held for its operations together.
    this.#ops.push({ at, ops: read });
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
    this.#edit('setSelected', [sku, selected], [{ op: 'select', sku, selected: selected === true }], false);
  }

  selectAll(selected) {
    this.#edit('selectAll', [selected], [{ op: 'selectAll', selected: selected === true }], false);
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
      const now = this.#lines().get(line.sku)?.qty ?? 0;
      if (now >= line.qty) continue;
      const ops = [{ op: 'add', sku: line.sku, qty: line.qty - now }, ...(line.selected ? [] : [{ op: 'select', sku: line.sku, selected: false }])];
      try {
        applied(this.#lines(), ops.slice(0, 1), 0);
      } catch {
        continue;
      }
      this.#ops.push({ at: Date.now(), ops });
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

  /** The library's flush; before it is ready, `false` once `timeoutMs` have passed without it (no timeout: waits). */
  async flush(timeoutMs) {
    if (this.#client || timeoutMs === undefined) return (await this.ready).flush(timeoutMs);
    const started = Date.now();
    let timer;
    const late = new Promise((resolve) => { timer = setTimeout(resolve, timeoutMs, null); });
    const client = await Promise.race([this.ready.catch(() => null), late]);
    clearTimeout(timer);
    return client ? client.flush(Math.max(0, timeoutMs - (Date.now() - started))) : false;
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

  /** Calls `callback(view)` on every change (the layer's, then the library's); returns a function that stops it. */
  subscribe(callback) {
    const f = (e) => callback(e.detail);
    this.#events.addEventListener('change', f);
    return () => this.#events.removeEventListener('change', f);
  }

  /** Stops listening and frees the library's client. */
  free() {
    this.#freed = true;
    [...this.#stop].forEach((f) => f());
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
