// A minimal shop page on the Vue binding: the cart is a CartClient, the panel reads `useCart(cart)`.
// Built by scripts/build-examples.sh (esbuild) into www/examples/vue/; `make dev` serves it at /examples/vue/.
import { createApp, h, ref } from 'vue';
import init, { CartClient } from '@edge-cart/client';
import { useCart } from '@edge-cart/client/vue';

const PRODUCTS = [
  { sku: 'TEA-SENCHA', name: 'Sencha green tea' },
  { sku: 'MUG-STONE', name: 'Stoneware mug' },
];

await init();
const cart = new CartClient(location.origin);

const Shop = {
  setup() {
    const view = useCart(cart);
    const user = ref('');
    const error = ref('');
    const attempt = (op) => {
      try {
        op();
        error.value = '';
      } catch (e) {
        error.value = e.code;
      }
    };
    const signIn = async () => {
      // The dev build's token route stands in for the shop's identity provider.
      const res = await fetch('/v1/dev/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId: user.value }) });
      if (!res.ok) {
        error.value = 'SIGN_IN_NEEDS_THE_DEV_BUILD';
        return;
      }
      const { token } = await res.json();
      attempt(() => cart.login(token));
    };
    return () => h('main', [
      h('h1', 'Vue shop'),
      h('ul', { id: 'products' }, PRODUCTS.map((p) => h('li', { key: p.sku }, [
        `${p.name} `,
        h('button', { type: 'button', 'data-sku': p.sku, onClick: () => attempt(() => cart.add(p.sku, 1)) }, 'Add'),
      ]))),
      h('p', { id: 'status', 'data-status': view.value.status, 'data-pending': view.value.pending },
        `${view.value.status}, ${view.value.pending} pending`),
      h('ul', { id: 'lines' }, view.value.lines.map((l) => h('li', { key: l.sku, 'data-sku': l.sku, 'data-qty': l.qty }, `${l.qty} × ${l.sku}`))),
      h('p', { id: 'who' }, view.value.userId ? `Signed in as ${view.value.userId}` : 'Guest'),
      h('input', { id: 'user', value: user.value, onInput: (e) => { user.value = e.target.value; }, 'aria-label': 'User id' }),
      h('button', { type: 'button', id: 'sign-in', onClick: signIn }, 'Sign in'),
      error.value ? h('p', { id: 'error', role: 'alert' }, error.value) : null,
    ]);
  },
};

createApp(Shop).mount('#root');
document.body.dataset.ready = 'true';
