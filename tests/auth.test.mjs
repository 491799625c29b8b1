// User carts: bearer tokens, isolation between users and from guest ids, and the login merge.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { call, newCartId, newUserId, sign, tokenFor, secret, previousSecret } from './support/cart.mjs';
import { SocketPeer, qtyOf } from './support/peer.mjs';

const me = '/v1/me/cart';
const now = () => Math.floor(Date.now() / 1000);

describe('bearer tokens', () => {
  test('the dev token route issues a token that opens the user cart', async () => {
    const res = await call('POST', '/v1/dev/token', { json: { userId: newUserId() } });
    assert.equal(res.status, 200);
    const cart = await call('GET', me, { token: res.body.token });
    assert.equal(cart.status, 200);
    assert.equal(cart.body.id, 'me');
  });

  test('the dev token route refuses bad user ids with INVALID_USER_ID', async () => {
    for (const userId of ['', 'has space', 'x'.repeat(129)]) {
      const res = await call('POST', '/v1/dev/token', { json: { userId } });
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, 'INVALID_USER_ID');
    }
  });

  test('missing, malformed, forged, tampered, alg-none and expired tokens all get 401 with their code', async () => {
    const sub = newUserId();
    const good = tokenFor(sub);
    const [h, , s] = good.split('.');
    const tampered = `${h}.${Buffer.from(JSON.stringify({ sub: 'someone-else', exp: now() + 3600 })).toString('base64url')}.${s}`;
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub, exp: now() + 3600 })).toString('base64url')}.`;
    const cases = [
      [{}, 'MISSING_TOKEN'],
      [{ headers: { authorization: 'Basic dXNlcjpwYXNz' } }, 'MISSING_TOKEN'],
      [{ token: 'not-a-jwt' }, 'INVALID_TOKEN', 'malformed'],
      [{ token: sign({ sub, exp: now() + 3600 }, 'a-different-secret-key') }, 'INVALID_TOKEN', 'bad_signature'],
      [{ token: tampered }, 'INVALID_TOKEN', 'bad_signature'],
      [{ token: none }, 'INVALID_TOKEN', 'alg_none'],
      [{ token: sign({ sub, exp: now() + 3600 }, secret, { alg: 'HS512', typ: 'JWT' }) }, 'INVALID_TOKEN', 'alg_not_allowed'],
      [{ token: sign({ sub, exp: now() + 3600 }, secret, { alg: 'HS256', crit: ['exp'], exp: 1 }) }, 'INVALID_TOKEN', 'unknown_crit'],
      [{ token: sign({ sub, exp: now() + 3600, pad: 'x'.repeat(9000) }) }, 'INVALID_TOKEN', 'too_large'],
      [{ token: sign({ sub }) }, 'INVALID_TOKEN', 'malformed'],
      [{ token: sign({ sub, exp: now() + 3600, nbf: now() + 600 }) }, 'INVALID_TOKEN', 'not_yet_valid'],
      [{ token: sign({ sub: 'has space', exp: now() + 3600 }) }, 'INVALID_TOKEN', 'bad_user_claim'],
      [{ token: sign({ sub, exp: now() - 3600 }) }, 'TOKEN_EXPIRED', 'expired'],
    ];
    for (const [opts, code, reason] of cases) {
      const res = await call('GET', me, opts);
      const what = JSON.stringify(opts).slice(0, 80);
      assert.equal(res.status, 401, code);
      assert.equal(res.body.error.code, code, what);
      assert.equal(res.body.error.reason, reason, what);
      // RFC 6750: a refused token is invalid_token; a request without one gets the bare challenge.
      const challenge = res.headers.get('www-authenticate');
      if (reason) assert.match(challenge, /^Bearer error="invalid_token", error_description="[^"]+"$/, what);
      else assert.equal(challenge, 'Bearer');
    }
  });

  test('a token signed with the previous shared secret opens the same cart, so rotating the secret logs nobody out', async () => {
    assert.ok(previousSecret && previousSecret !== secret, 'the test server holds two secrets');
    const sub = newUserId();
    const current = tokenFor(sub);
    const previous = sign({ sub, exp: now() + 3600 }, previousSecret);
    assert.equal((await call('POST', `${me}/lines`, { json: { sku: 'ROT', qty: 2 }, token: previous })).status, 200);
    const cart = await call('GET', me, { token: current });
    assert.equal(cart.status, 200);
    assert.equal(cart.body.lines.find((l) => l.sku === 'ROT')?.qty, 2);
  });

  test('a dev token and a shop token naming the same user open different carts', async () => {
    const userId = newUserId();
    const dev = (await call('POST', '/v1/dev/token', { json: { userId } })).body.token;
    assert.equal((await call('POST', `${me}/lines`, { json: { sku: 'DEV-ONLY', qty: 1 }, token: dev })).status, 200);
    const shop = await call('GET', me, { token: tokenFor(userId) });
    assert.equal(shop.status, 200);
    assert.equal(shop.body.lineCount, 0);
    const again = await call('GET', me, { token: dev });
    assert.equal(again.body.lines.find((l) => l.sku === 'DEV-ONLY')?.qty, 1);
  });

  test('writes with a bad token change nothing', async () => {
    const sub = newUserId();
    const forged = sign({ sub, exp: now() + 3600 }, 'a-different-secret-key');
    const res = await call('POST', `${me}/lines`, { json: { sku: 'A', qty: 1 }, token: forged });
    assert.equal(res.status, 401);
    const real = await call('GET', me, { token: tokenFor(sub) });
    assert.equal(real.body.lineCount, 0);
  });
});

describe('live sync of the user cart', () => {
  test('a browser-style socket authenticates with access_token in the query and gets the user\'s cart', async () => {
    const token = tokenFor(newUserId());
    await call('POST', `${me}/lines`, { json: { sku: 'MINE', qty: 4 }, token });
    const peer = new SocketPeer(`${me}/sync?access_token=${encodeURIComponent(token)}`);
    try {
      await peer.opened;
      await peer.until((doc) => qtyOf(doc, 'MINE') === 4);
    } finally {
      peer.close();
    }
  });

  test('a socket with a forged token is refused before it opens', async () => {
    const forged = sign({ sub: newUserId(), exp: now() + 3600 }, 'a-different-secret-key');
    const peer = new SocketPeer(`${me}/sync?access_token=${forged}`);
    await assert.rejects(peer.opened);
  });
});

describe('isolation', () => {
  test('a token for user A can neither read nor write user B\'s cart', async () => {
    const [a, b] = [tokenFor(newUserId('a')), tokenFor(newUserId('b'))];
    await call('POST', `${me}/lines`, { json: { sku: 'A-ONLY', qty: 1 }, token: a });
    await call('POST', `${me}/lines`, { json: { sku: 'B-ONLY', qty: 2 }, token: b });
    const seenByA = await call('GET', me, { token: a });
    const seenByB = await call('GET', me, { token: b });
    assert.deepEqual(seenByA.body.lines.map((l) => l.sku), ['A-ONLY']);
    assert.deepEqual(seenByB.body.lines.map((l) => l.sku), ['B-ONLY']);
  });

  test('a guest cart id equal to a user id does not reach that user\'s cart', async () => {
    const userId = newCartId(); // a user whose id is also a valid cart id
    await call('POST', `${me}/lines`, { json: { sku: 'SECRET', qty: 1 }, token: tokenFor(userId) });
    const guest = await call('GET', `/v1/carts/${userId}`);
    assert.equal(guest.status, 200);
    assert.equal(guest.body.lineCount, 0);
    await call('POST', `/v1/carts/${userId}/lines`, { json: { sku: 'GUEST', qty: 1 } });
    const user = await call('GET', me, { token: tokenFor(userId) });
    assert.deepEqual(user.body.lines.map((l) => l.sku), ['SECRET']);
  });
});

describe('POST /v1/me/cart/merge', () => {
  async function setup() {
    const guestCartId = newCartId();
    await call('POST', `/v1/carts/${guestCartId}/lines`, { json: { sku: 'GUEST-ONLY', qty: 2 } });
    await call('POST', `/v1/carts/${guestCartId}/lines`, { json: { sku: 'BOTH', qty: 3 } });
    const token = tokenFor(newUserId());
    await call('POST', `${me}/lines`, { json: { sku: 'BOTH', qty: 5 }, token });
    await call('POST', `${me}/lines`, { json: { sku: 'USER-ONLY', qty: 1 }, token });
    return { guestCartId, token };
  }
  const qtys = (view) => Object.fromEntries(view.lines.map((l) => [l.sku, l.qty]));

  test('merges the guest cart with policy max by default and reports where lines went', async () => {
    const { guestCartId, token } = await setup();
    const res = await call('POST', `${me}/merge`, { json: { guestCartId }, token });
    assert.equal(res.status, 200);
    assert.deepEqual(qtys(res.body.cart), { 'GUEST-ONLY': 2, BOTH: 5, 'USER-ONLY': 1 });
    assert.deepEqual(res.body.merged.added, ['GUEST-ONLY']);
    assert.deepEqual(res.body.merged.unchanged, ['BOTH']);
    const guest = await call('GET', `/v1/carts/${guestCartId}`);
    assert.equal(typeof guest.body.mergedAt, 'number', 'the guest cart is marked merged');
    assert.equal(guest.body.lineCount, 2, 'and can still be read');
  });

  test('policy sum adds quantities', async () => {
    const { guestCartId, token } = await setup();
    const res = await call('POST', `${me}/merge`, { json: { guestCartId, policy: 'sum' }, token });
    assert.deepEqual(qtys(res.body.cart), { 'GUEST-ONLY': 2, BOTH: 8, 'USER-ONLY': 1 });
  });

  test('merging twice, or from two tabs at once, gives the result of one merge', async () => {
    const { guestCartId, token } = await setup();
    const [one, two] = await Promise.all([
      call('POST', `${me}/merge`, { json: { guestCartId, policy: 'sum' }, token }),
      call('POST', `${me}/merge`, { json: { guestCartId, policy: 'sum' }, token }),
    ]);
    assert.equal(one.status, 200);
    assert.equal(two.status, 200);
    assert.equal([one, two].filter((r) => r.body.merged.alreadyMerged).length, 1);
    const retry = await call('POST', `${me}/merge`, { json: { guestCartId, policy: 'sum' }, token });
    assert.equal(retry.body.merged.alreadyMerged, true);
    assert.deepEqual(qtys(retry.body.cart), { 'GUEST-ONLY': 2, BOTH: 8, 'USER-ONLY': 1 });
  });

  test('merge errors: token required, INVALID_CART_ID, INVALID_POLICY, INVALID_BODY', async () => {
    const { guestCartId, token } = await setup();
    const noToken = await call('POST', `${me}/merge`, { json: { guestCartId } });
    assert.equal(noToken.status, 401);
    const cases = [
      [{ guestCartId: 'short' }, 'INVALID_CART_ID'],
      [{ guestCartId, policy: 'most' }, 'INVALID_POLICY'],
      [{}, 'INVALID_BODY'],
      [{ guestCartId, extra: 1 }, 'INVALID_BODY'],
    ];
    for (const [json, code] of cases) {
      const res = await call('POST', `${me}/merge`, { json, token });
      assert.equal(res.status, 400, code);
      assert.equal(res.body.error.code, code);
    }
    const user = await call('GET', me, { token });
    assert.deepEqual(qtys(user.body), { BOTH: 5, 'USER-ONLY': 1 }, 'nothing was merged');
  });
});
