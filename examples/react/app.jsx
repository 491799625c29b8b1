// A minimal shop page on the React binding: the cart is a CartClient, the panel is `useCart(cart)`.
// Built by scripts/build-examples.sh (esbuild) into www/examples/react/; `make dev` serves it at /examples/react/.
import { createRoot } from 'react-dom/client';
import { useState } from 'react';
import init, { CartClient } from '@edge-cart/client';
import { useCart } from '@edge-cart/client/react';

const PRODUCTS = [
  { sku: 'TEA-SENCHA', name: 'Sencha green tea' },
  { sku: 'MUG-STONE', name: 'Stoneware mug' },
];

function Shop({ cart }) {
  const view = useCart(cart);
  const [user, setUser] = useState('');
  const [error, setError] = useState('');
  const attempt = (op) => {
    try {
      op();
      setError('');
    } catch (e) {
      setError(e.code);
    }
  };
  const signIn = async () => {
    // The dev build's token route stands in for the shop's identity provider.
    const res = await fetch('/v1/dev/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId: user }) });
    if (!res.ok) return setError('SIGN_IN_NEEDS_THE_DEV_BUILD');
    const { token } = await res.json();
    attempt(() => cart.login(token));
  };
  return (
    <main>
      <h1>React shop</h1>
      <ul id="products">
        {PRODUCTS.map((p) => (
          <li key={p.sku}>
            {p.name} <button type="button" data-sku={p.sku} onClick={() => attempt(() => cart.add(p.sku, 1))}>Add</button>
          </li>
        ))}
      </ul>
      <p id="status" data-status={view.status} data-pending={view.pending}>{view.status}, {view.pending} pending</p>
      <ul id="lines">
        {view.lines.map((l) => <li key={l.sku} data-sku={l.sku} data-qty={l.qty}>{l.qty} × {l.sku}</li>)}
      </ul>
      <p id="who">{view.userId ? `Signed in as ${view.userId}` : 'Guest'}</p>
      <input id="user" value={user} onChange={(e) => setUser(e.target.value)} aria-label="User id" />
      <button type="button" id="sign-in" onClick={signIn}>Sign in</button>
      {error && <p id="error" role="alert">{error}</p>}
    </main>
  );
}

await init();
const cart = new CartClient(location.origin);
createRoot(document.getElementById('root')).render(<Shop cart={cart} />);
document.body.dataset.ready = 'true';
