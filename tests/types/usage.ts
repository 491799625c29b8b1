// What a TypeScript storefront writes against the package: checked by `tests/bindings.test.mjs` with tsc --strict.
// The @ts-expect-error lines must stay errors: read-only views and the event names are part of the types.
import init, { CartClient, type CartView, type CartError } from '../../client-wasm/pkg/cart_client.js';
import { useCart } from '../../client-wasm/pkg/react.js';
import { useCart as useVue } from '../../client-wasm/pkg/vue.js';
import { cartStore, SERVER_VIEW } from '../../client-wasm/pkg/store.js';
import { bootCart, type BootedCart } from '../../client-wasm/pkg/boot.js';
async function main() {
  await init();
  const cart = new CartClient('https://x', { transport: 'none' });
  cart.addEventListener('change', (e) => console.log(e.detail.itemCount));
  cart.addEventListener('status', (e) => console.log(e.detail.status, e.detail.pending));
  cart.addEventListener('error', (e) => console.log(e.detail.code, e.detail.lines?.[0]?.seenPrice));
  const onStatus = (e: CustomEvent<CartView>) => console.log(e.detail.status);
  cart.addEventListener('status', onStatus);
  cart.removeEventListener('status', onStatus);
  // @ts-expect-error an error event carries a CartError, not a view
  cart.addEventListener('error', (e: CustomEvent<CartView>) => console.log(e.detail.lineCount));
  const stop: () => void = cart.subscribe((v: CartView) => console.log(v.itemCount));
  stop();
  const v: CartView = useCart(cart);
  const r = useVue(null);
  const fromGetter = useVue(() => cart);
  console.log(fromGetter.value.pending);
  const n: number = r.value.lineCount;
  const s = cartStore(cart).getSnapshot();
  // @ts-expect-error views are read-only
  s.itemCount = 3;
  // @ts-expect-error lines are read-only
  s.lines.push({ sku: 'x', qty: 1, selected: true, addedAt: 0 });
  // @ts-expect-error unknown event
  cart.addEventListener('nope', () => {});
  console.log(v, n, SERVER_VIEW);
}
main();

/** The first-paint layer: the same edits and events, and the library once it is ready. */
async function boot() {
  const booted: BootedCart = bootCart('https://shop.example', { storageKey: 'shop' }, { wasm: new URL('https://cdn.example/c.wasm') });
  booted.add('MUG', 2);
  booted.addEventListener('change', (e) => console.log(e.detail.itemCount));
  booted.addEventListener('error', (e) => console.log(e.detail.code));
  const client: CartClient = await booted.ready;
  const order = await booted.checkout({ idempotencyKey: 'k' });
  console.log(client.view().lineCount, order, booted.client?.cartPath);
  // @ts-expect-error qty is a number
  booted.add('MUG', '2');
}
boot();
