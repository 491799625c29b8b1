// The demo storefront: plain ES modules, no build step. Every cart operation goes through the browser library
// (client-wasm, served from ./pkg/): it applies at once, persists to LocalStorage, and syncs with the worker.
import init, { CartClient } from './pkg/cart_client.js';
import { bySku, catalog, formatPrice } from './catalog.js';

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
};

let noticeTimer;
function notice(text, { error = false } = {}) {
  const el = $('notice');
  el.textContent = text;
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

function lineItem(line) {
  const product = bySku.get(line.sku);
  const name = product?.name ?? line.sku;
  const setQty = (qty) => attempt(() => cart.setQuantity(line.sku, qty));
  return h('li', { className: 'line', dataset: { sku: line.sku, qty: String(line.qty), selected: String(line.selected) } },
    h('input', {
      type: 'checkbox', checked: line.selected, id: `select-${line.sku}`,
      'aria-label': `Select ${name} for checkout`,
      onchange: (e) => attempt(() => cart.setSelected(line.sku, e.target.checked)),
    }),
    h('span', { className: 'name' }, name),
    h('span', { className: 'subtotal' }, product ? formatPrice(product.price * line.qty) : ''),
    h('span', { className: 'unit' }, product ? `${formatPrice(product.price)} each` : 'not in the catalog'),
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
    h('button', { type: 'button', className: 'remove', 'aria-label': `Remove ${name}`, onclick: () => attempt(() => cart.remove(line.sku)) }, 'Remove'),
  );
}

function renderCart(view) {
  // Keep the keyboard where it was across the re-render.
  const focused = document.activeElement?.id;
  $('lines').replaceChildren(...view.lines.map(lineItem));
  if (focused && $(focused)) $(focused).focus();
  $('empty').hidden = view.lineCount > 0;
  $('clear').disabled = view.lineCount === 0;
  $('counts').textContent = `(${plural(view.lineCount, 'line')}, ${plural(view.itemCount, 'item')})`;
  const total = view.lines
    .filter((l) => l.selected)
    .reduce((sum, l) => sum + (bySku.get(l.sku)?.price ?? 0) * l.qty, 0);
  $('selected-total').textContent = formatPrice(total);
  $('cart-id').textContent = view.cartId ?? `user ${view.userId}`;
  $('version').textContent = view.version.slice(0, 12) || 'new';
}

function render(view) {
  renderStatus(view);
  renderAccount(view);
  renderCart(view);
}

function renderProducts() {
  $('products').replaceChildren(...catalog.map((p) => h('li', { className: 'product', dataset: { sku: p.sku } },
    h('div', { className: 'swatch', style: `background:${p.colour}`, role: 'img', 'aria-label': p.name }),
    h('h3', {}, p.name),
    h('p', { className: 'price' }, formatPrice(p.price)),
    h('button', { type: 'button', 'aria-label': `Add ${p.name} to cart`, onclick: () => attempt(() => cart.add(p.sku, 1)) }, 'Add to cart'),
  )));
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
    notice(mergeMessage(cart.login(body.token, policy), policy));
  } catch (e) {
    notice(e?.code ? explain(e) : 'Signing in needs the network: the demo gets its token from the server.', { error: true });
  } finally {
    button.disabled = false;
  }
}

async function signOut() {
  const flushed = await cart.logout(5000);
  notice(flushed ? 'Signed out. A new guest cart started.' : 'Signed out. Changes not yet synced are kept on this device until you sign in again.');
}

await init();
const cart = new CartClient(location.origin);
// For the curious, in the browser console: `edgeCart.view()`.
globalThis.edgeCart = cart;

renderProducts();
render(cart.view());
cart.addEventListener('change', (e) => render(e.detail));
cart.addEventListener('status', (e) => render(e.detail));
cart.addEventListener('error', (e) => notice(explain(e.detail), { error: true }));
$('sign-in').addEventListener('submit', signIn);
$('sign-out').addEventListener('click', signOut);
$('clear').addEventListener('click', () => attempt(() => cart.clear()));
$('work-offline').addEventListener('change', (e) => (e.target.checked ? cart.disconnect() : cart.connect()));
document.body.dataset.ready = 'true';
