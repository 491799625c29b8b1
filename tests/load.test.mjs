// A short version of `make load` (bench/load.mjs) against the shared test server: a mixed load on many carts gets
// no error, and afterwards every acknowledged add is in its cart and nothing else is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { base } from './support/cart.mjs';
import { runLoad } from '../bench/load.mjs';

test('a 5-second mixed load on 50 carts: no errors, no acknowledged add lost, nothing extra', async () => {
  const r = await runLoad({ url: base, seconds: 5, carts: 50, concurrency: 8 });
  assert.ok(r.ackedAdds > 50, `only ${r.ackedAdds} adds went through`);
  assert.deepEqual(r.errors, {});
  assert.equal(r.lost, 0);
  assert.equal(r.extra, 0);
});
