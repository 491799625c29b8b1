// The demo storefront: plain ES modules, bundled by scripts/build-storefront.mjs (esbuild) into www/assets/. Every
// cart operation goes through the browser library's first-paint layer (@edge-cart/client/boot): the cart this
// browser last showed and the Add buttons work at once, before the wasm library has arrived; edits apply at once,
// persist to LocalStorage, and sync with the worker.
import { bootCart } from '@edge-cart/client/boot';
import { cachedCatalog, fetchCatalog, formatPrice, issueOf, ISSUE_TEXT } from './catalog.js';

const $ = (id) => document.getElementById(id);

/** A DOM element: h('button', { type: 'button', onclick }, 'Add'). Text children are set as text, never as HTML. */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key in el && !key.includes('-')) el[key] = value;
    else el.setAttribute(key, value);
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

const MESSAGES = {
  CART_FULL: 'Your cart is full: 120 lines at most. Remove a line to add another product.',
  QUANTITY_LIMIT: 'At most 999 of one product per line.',
  INVALID_QUANTITY: 'Quantities go from 0 (removes the line) to 999.',
  STORAGE_FULL: 'This browser\'s storage is full: the cart keeps working and syncing, but is not saved on this device.',
  STORAGE_CORRUPT: 'Saved cart data on this device was unreadable; it was set aside and your cart is recovered from the server.',
  NOT_SYNCED: 'This needs the network: your cart is saved here and will sync.',
  NETWORK_ERROR: 'The shop could not be reached: try again in a moment.',
  NOT_READY: 'The cart is still loading: try again in a moment.',
  LIBRARY_UNAVAILABLE: 'The cart could not finish loading (offline?): your changes are kept on this device and sync later.',
};

let noticeTimer;
/** Shows a message; `action` ({ label, run }) adds a button, e.g. Undo. */
function notice(text, { error = false, action } = {}) {
  const el = $('notice');
  el.replaceChildren(text, ...(action ? [' ', h('button', { type: 'button', className: 'secondary', onclick: () => { el.hidden = true; action.run(); } }, action.label)] : []));
  el.classList.toggle('error', error);
  el.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { el.hidden = true; }, error ? 10_000 : 8_000);
}

const explain = (e) => MESSAGES[e?.code] ?? e?.message ?? String(e);

/** Runs a cart operation; a refused one (a limit, a bad quantity) is explained to the shopper. */
function attempt(op) {
  try {
    op();
  } catch (e) {
    notice(explain(e), { error: true });
  }
}

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** What a sign-in did with the guest cart, in words. */
function mergeMessage(report, policy) {
  if (report.alreadyMerged) return 'Signed in. This guest cart was already merged into your account.';
  const parts = [];
  if (report.added.length) {
    parts.push(`${plural(report.added.length, 'line')} from your guest cart ${report.added.length === 1 ? 'was' : 'were'} added`);
  }
  if (report.combined.length) {
    parts.push(`${plural(report.combined.length, 'line')} combined with your saved cart (${policy === 'sum' ? 'quantities added up' : 'larger quantity kept'})`);
  }
  if (report.unchanged.length) parts.push(`${plural(report.unchanged.length, 'line')} already in your cart`);
  if (report.clamped.length) parts.push(`${plural(report.clamped.length, 'line')} capped at 999`);
  if (report.skippedCartFull.length) parts.push(`${plural(report.skippedCartFull.length, 'line')} left out: the cart is full`);
  return parts.length ? `Signed in: ${parts.join('; ')}.` : 'Signed in. Your guest cart was empty.';
}

const STATUS_TEXT = { online: 'Online', syncing: 'Syncing…', connecting: 'Connecting…', offline: 'Offline' };

function renderStatus(view) {
  const el = $('status');
  const pending = view.pending > 0 ? ` · ${plural(view.pending, 'change')} pending` : '';
  el.dataset.status = view.status;
  el.dataset.pending = String(view.pending);
  el.textContent = `${STATUS_TEXT[view.status] ?? view.status}${pending}`;
}

function renderAccount(view) {
  const signedIn = view.userId !== undefined;
  $('sign-in').hidden = signedIn;
  $('signed-in').hidden = !signedIn;
  $('who').textContent = view.userId ?? '';
}

/** A removal or clear the shopper can take back. */
function removing(what, op) {
  attempt(() => {
    op();
    notice(`${what}.`, { action: { label: 'Undo', run: () => attempt(() => cart.undo()) } });
  });
}

function lineItem(line) {
  const product = bySku.get(line.sku);
  const name = product?.name ?? line.sku;
  const issue = issueOf(product, line.qty);
  const setQty = (qty) => (qty === 0 ? removing(`Removed ${name}`, () => cart.setQuantity(line.sku, 0)) : attempt(() => cart.setQuantity(line.sku, qty)));
  return h('li', { className: `line${issue ? ' flagged' : ''}`, dataset: { sku: line.sku, qty: String(line.qty), selected: String(line.selected), issue: issue ?? '' } },
    h('input', {
      type: 'checkbox', checked: line.selected, id: `select-${line.sku}`,
      'aria-label': `Select ${name} for checkout`,
      onchange: (e) => attempt(() => cart.setSelected(line.sku, e.target.checked)),
    }),
    h('span', { className: 'name' }, name),
    h('span', { className: 'subtotal' }, product ? formatPrice(product.price * line.qty) : ''),
    h('span', { className: 'unit' }, issue ? ISSUE_TEXT[issue](product) : `${formatPrice(product.price)} each`),
    h('div', { className: 'stepper' },
      h('button', { type: 'button', 'aria-label': `One less ${name}`, onclick: () => setQty(line.qty - 1) }, '−'),
      h('input', {
        type: 'number', min: '0', max: '999', value: String(line.qty), id: `qty-${line.sku}`,
        'aria-label': `Quantity of ${name}`, inputMode: 'numeric',
        onchange: (e) => {
          const qty = Number(e.target.value);
          if (Number.isInteger(qty) && qty >= 0) setQty(qty);
          else { notice(MESSAGES.INVALID_QUANTITY, { error: true }); render(cart.view()); }
        },
      }),
      h('button', { type: 'button', 'aria-label': `One more ${name}`, onclick: () => attempt(() => cart.add(line.sku, 1)) }, '+'),
    ),
    h('button', { type: 'button', className: 'remove', 'aria-label': `Remove ${name}`, onclick: () => removing(`Removed ${name}`, () => cart.remove(line.sku)) }, 'Remove'),
  );
}

/** The lines last drawn, so acknowledgements and status changes (which do not touch the lines) redraw nothing. */
let drawnLines = '';

function renderCart(view) {
  const lines = JSON.stringify(view.lines);
  if (lines !== drawnLines) {
    // Redrawing replaces the inputs: a quantity being typed survives only if the lines did not change.
    drawnLines = lines;
    const focused = document.activeElement?.id;
    $('lines').replaceChildren(...view.lines.map(lineItem));
    if (focused && $(focused)) $(focused).focus();
  }
  $('empty').hidden = view.lineCount > 0;
  // One change for every line (cart.selectAll), checked when all are, indeterminate when some are.
  const selected = view.lines.filter((l) => l.selected).length;
  $('select-all-label').hidden = view.lineCount === 0;
  $('select-all').checked = view.lineCount > 0 && selected === view.lineCount;
  $('select-all').indeterminate = selected > 0 && selected < view.lineCount;
  $('clear').disabled = view.lineCount === 0;
  $('counts').textContent = `(${plural(view.lineCount, 'line')}, ${plural(view.itemCount, 'item')})`;
  // Totals cover selected lines that can be bought as they are; flagged lines are greyed out and left out.
  const buyable = view.lines.filter((l) => l.selected && !issueOf(bySku.get(l.sku), l.qty));
  const total = buyable.reduce((sum, l) => sum + bySku.get(l.sku).price * l.qty, 0);
  $('selected-total').textContent = formatPrice(total);
  $('checkout').disabled = buyable.length === 0;
  $('share').disabled = view.lineCount === 0;
  $('cart-id').textContent = view.cartId ?? `user ${view.userId}`;
  $('version').textContent = view.version.slice(0, 12) || 'new';
}

function render(view) {
  renderStatus(view);
  renderAccount(view);
  renderCart(view);
}

function renderProducts() {
  if (catalog.length === 0) {
    $('products').replaceChildren(h('li', { className: 'empty' }, 'The catalog could not be loaded (offline?). Your cart still works.'));
    return;
  }
  $('products').replaceChildren(...catalog.map((p) => h('li', { className: 'product', dataset: { sku: p.sku } },
    h('div', { className: 'swatch', style: `background:${p.colour ?? '#ccc'}`, role: 'img', 'aria-label': p.name }),
    h('h3', {}, p.name),
    h('p', { className: 'price' }, formatPrice(p.price), p.stock === 0 ? ' · sold out' : ''),
    h('button', { type: 'button', 'aria-label': `Add ${p.name} to cart`, disabled: p.stock === 0, onclick: () => attempt(() => cart.add(p.sku, 1)) }, p.stock === 0 ? 'Sold out' : 'Add to cart'),
  )));
}

/** A call to the cart's own API routes (as the signed-in user when there is one). */
async function api(method, path, { json, headers = {} } = {}) {
  const init = { method, headers: { ...headers } };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers['content-type'] = 'application/json';
  }
  if (cart.token) init.headers.authorization = `Bearer ${cart.token}`;
  const res = await fetch(path, init);
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    throw Object.assign(new Error(body?.error?.message ?? `HTTP ${res.status}`), { code: body?.error?.code, lines: body?.error?.lines });
  }
  return body;
}

/** The last checkout of this page, for "Buy again". */
let lastOrder = null;

/** A new session does not buy again what the previous one ordered. */
function forgetOrder() {
  lastOrder = null;
  $('order').hidden = true;
}

/** Puts the lines of the last checkout back in the cart, in one change (cart.batch): all of them or, if one does
 *  not fit, none. */
function buyAgain() {
  if (!lastOrder) return;
  attempt(() => {
    cart.batch(lastOrder.lines.map((l) => ({ op: 'add', sku: l.sku, qty: l.qty })));
    notice(`Added ${plural(lastOrder.lines.length, 'line')} of order ${lastOrder.id} again.`);
  });
}

/** Checks out the selected, available lines: a snapshot with today's prices; those lines leave the cart. */
async function checkOut() {
  const button = $('checkout');
  button.disabled = true;
  try {
    // The prices this page showed: a line whose price changed since refuses the checkout (409 PRICE_CHANGED). The
    // library waits for the cart to sync, and retries a failed connection with the same idempotency key, so one
    // click never checks out twice.
    const seenPrices = Object.fromEntries(cart.view().lines
      .filter((l) => l.selected && bySku.has(l.sku))
      .map((l) => [l.sku, bySku.get(l.sku).price]));
    const order = await cart.checkout({ removeCheckedOut: true, seenPrices });
    $('order').hidden = false;
    lastOrder = order;
    $('order-id').textContent = order.id;
    $('order-lines').replaceChildren(...order.lines.map((l) => h('li', {}, `${l.qty} × ${l.name} — ${formatPrice(l.lineTotal)}`)));
    $('order-total').textContent = formatPrice(order.subtotal);
    notice(`Checked out ${plural(order.lineCount, 'line')} for ${formatPrice(order.subtotal)}.`);
  } catch (e) {
    if (e.code === 'PRICE_CHANGED') {
      // Show today's prices (the server named them), then let the shopper decide.
      for (const line of e.lines ?? []) {
        const product = bySku.get(line.sku);
        if (product) bySku.set(line.sku, { ...product, price: line.unitPrice });
      }
      drawnLines = '';
      notice('Some prices changed since you looked: check the new prices and check out again.', { error: true });
    } else {
      notice(e.code === 'NOTHING_TO_CHECK_OUT' ? 'Nothing to check out: select lines that are in stock.' : explain(e), { error: true });
    }
  } finally {
    render(cart.view());
  }
}

/** Makes a read-only link to a copy of the cart as it is now. */
async function shareCart() {
  try {
    const { token } = await cart.share();
    const link = `${location.origin}/?share=${token}`;
    $('share-link').value = link;
    $('share-box').hidden = false;
    notice('Share link ready: anyone with it can see this cart and copy it, never change yours.');
  } catch (e) {
    notice(explain(e), { error: true });
  }
}

/** A shared cart from `?share=TOKEN`: shown read-only, with a button to copy its lines into this cart. */
async function showShared(token) {
  let shared;
  try {
    shared = await api('GET', `/v1/shared/${encodeURIComponent(token)}`);
  } catch (e) {
    notice(e.code === 'SHARE_NOT_FOUND' ? 'This share link does not exist or has expired.' : explain(e), { error: true });
    return;
  }
  $('shared').hidden = false;
  $('shared-lines').replaceChildren(...shared.lines.map((l) => h('li', { dataset: { sku: l.sku } },
    `${l.qty} × ${l.name ?? l.sku}`, l.lineTotal !== null ? ` — ${formatPrice(l.lineTotal)}` : '')));
  $('copy-shared').onclick = async () => {
    try {
      if (!(await cart.flush(5000))) throw new Error('Copying needs the network.');
      const { merged } = await api('POST', `${cart.cartPath}/copy`, { json: { from: token } });
      notice(merged.alreadyMerged ? 'These lines were already copied into your cart.' : `Copied ${plural(merged.added.length + merged.combined.length, 'line')} into your cart.`);
    } catch (e) {
      notice(explain(e), { error: true });
    }
  };
}

async function signIn(event) {
  event.preventDefault();
  const form = event.target;
  const userId = form.userId.value.trim();
  const policy = form.policy.value;
  const button = form.querySelector('button');
  button.disabled = true;
  try {
    // The demo's identity provider: the worker's dev-only token route. A real storefront passes its own JWT.
    const res = await fetch('/v1/dev/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId }),
    });
    const body = await res.json().catch(() => null);
    if (!res.ok) {
      notice(res.status === 404 ? 'Demo sign-in exists only in dev mode (make dev).' : body?.error?.message ?? `Sign-in failed (${res.status})`, { error: true });
      return;
    }
    forgetOrder();
    // Signing in merges carts, which needs the library itself (the first-paint layer waits for it).
    await cart.ready;
    notice(mergeMessage(cart.login(body.token, policy), policy));
  } catch (e) {
    notice(e?.code ? explain(e) : 'Signing in needs the network: the demo gets its token from the server.', { error: true });
  } finally {
    button.disabled = false;
  }
}

async function signOut() {
  forgetOrder();
  const flushed = await cart.logout(5000);
  notice(flushed ? 'Signed out. A new guest cart started.' : 'Signed out. Changes not yet synced are kept on this device until you sign in again.');
}

// The products: this browser's copy of the catalog at once (refreshed when the worker answers), or on a first
// visit the worker's answer, which the page's preload hint has already asked for.
let catalog = [];
let bySku = new Map();
function setCatalog(products) {
  catalog = products;
  bySku = new Map(products.map((p) => [p.sku, p]));
}
// The cart works from here on; the wasm library loads in the background (the layer compiles it streaming), beside
// the catalog rather than after it.
const cart = bootCart(location.origin, {}, { wasm: new URL(__CART_WASM__, import.meta.url) });
const fresh = fetchCatalog();
const cached = cachedCatalog();
// A first visit waits for the catalog, at most 5 s (a worker that does not answer leaves the page with no products,
// which the background answer fills in).
const late = new Promise((resolve) => setTimeout(resolve, 5000, null));
setCatalog(cached ?? (await Promise.race([fresh, late])) ?? []);
// For the curious, in the browser console: `edgeCart.view()`.
globalThis.edgeCart = cart;

renderProducts();
render(cart.view());
// The worker's answer replaces the copy shown (or fills a page whose first visit did not wait for it).
fresh.then((products) => {
  if (!products || products === catalog) return;
  setCatalog(products);
  renderProducts();
  drawnLines = '';
  render(cart.view());
});
// data-ready: the page works (the first-paint layer); data-library: whether the wasm library has taken over.
document.body.dataset.library = 'loading';
cart.ready.then(() => { document.body.dataset.library = 'ready'; });
cart.addEventListener('change', (e) => render(e.detail));
cart.addEventListener('status', (e) => render(e.detail));
cart.addEventListener('error', (e) => notice(explain(e.detail), { error: true }));
$('sign-in').addEventListener('submit', signIn);
$('sign-out').addEventListener('click', signOut);
$('clear').addEventListener('click', () => removing('Cart cleared', () => cart.clear()));
$('select-all').addEventListener('change', (e) => attempt(() => cart.selectAll(e.target.checked)));
$('buy-again').addEventListener('click', buyAgain);
$('checkout').addEventListener('click', checkOut);
$('share').addEventListener('click', shareCart);
$('copy-link').addEventListener('click', () => navigator.clipboard?.writeText($('share-link').value));
const sharedToken = new URLSearchParams(location.search).get('share');
if (sharedToken) showShared(sharedToken);
$('work-offline').addEventListener('change', (e) => (e.target.checked ? cart.disconnect() : cart.connect()));
document.body.dataset.ready = 'true';
