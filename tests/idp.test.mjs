// Sign-in with the shop's own identity provider: a worker configured with AUTH_JWKS_URL, AUTH_ISSUER and
// AUTH_AUDIENCE verifies RS256 and ES256 tokens against a real key set, served on loopback by this file with keys
// generated per run and tokens signed by jose, as Auth0, Clerk, Supabase, Firebase or Cloudflare Access would.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { initSync, CartClient } from '../client-wasm/pkg/cart_client.js';
import { base, call, countRequests, newUserId, sign, startServer, tokenFor, unlimited } from './support/cart.mjs';

const ISSUER = 'https://idp.test.example/';
const AUDIENCE = 'edge-cart-shop';
const me = '/v1/me/cart';
const now = () => Math.floor(Date.now() / 1000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const until = async (predicate, ms = 15_000) => {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(25);
  }
};

/** The identity provider: key pairs by kid, the published set, and how often it was fetched. */
const idp = { keys: new Map(), published: [], fetches: 0, cacheControl: 'public, max-age=1', mode: 'ok' };

async function newKey(kid, alg) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  idp.keys.set(kid, { alg, privateKey, jwk });
  return kid;
}

const publish = (...kids) => { idp.published = kids.map((kid) => idp.keys.get(kid).jwk); };

/** A token from the provider, signed with `kid`'s key; `claims` and `header` override the defaults. */
function issue(kid, claims = {}, header = {}) {
  const { alg, privateKey } = idp.keys.get(kid);
  return new SignJWT({ sub: claims.sub ?? newUserId('idp'), ...claims })
    .setProtectedHeader({ alg, kid, typ: 'JWT', ...header })
    .setIssuer(claims.iss ?? ISSUER)
    .setAudience(claims.aud ?? AUDIENCE)
    .setIssuedAt(claims.iat ?? now())
    .setExpirationTime(claims.exp ?? now() + 600)
    // jose signs a `crit` header only for extensions it is told are understood.
    .sign(privateKey, header.crit ? { crit: Object.fromEntries(header.crit.map((name) => [name, true])) } : undefined);
}

let jwksServer;
let server;
let url;

before(async () => {
  initSync({ module: readFileSync(new URL('../client-wasm/pkg/cart_client_bg.wasm', import.meta.url)) });
  await newKey('rsa-1', 'RS256');
  await newKey('ec-1', 'ES256');
  publish('rsa-1', 'ec-1');
  jwksServer = http.createServer((req, res) => {
    if (req.url !== '/jwks' && req.url !== '/moved') { res.writeHead(404).end(); return; }
    idp.fetches++;
    const set = JSON.stringify({ keys: idp.published });
    if (req.url === '/moved') { res.writeHead(200, { 'content-type': 'application/json' }).end(set); return; }
    switch (idp.mode) {
      case 'down': res.writeHead(503).end('down'); return;
      // A good set the worker would take if it followed the redirect.
      case 'redirect': res.writeHead(302, { location: '/moved' }).end(); return;
      // A body without a length (chunked) that never ends: only a read cut off at 64 KiB answers before the timeout.
      case 'endless': {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"pad":"');
        const timer = setInterval(() => res.write('x'.repeat(16384)), 10);
        res.on('close', () => clearInterval(timer));
        return;
      }
      // A length over 64 KiB, and a body that never comes: only the Content-Length check answers at once.
      case 'long':
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000000' });
        res.write('{"keys":');
        return;
      case 'empty': res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[]}'); return;
      // Headers at once, then a body that never ends.
      case 'stall': res.writeHead(200, { 'content-type': 'application/json' }); res.write('{"keys":'); return;
      default:
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': idp.cacheControl });
        res.end(set);
    }
  });
  await new Promise((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  const vars = `AUTH_JWKS_URL:http://127.0.0.1:${jwksServer.address().port}/jwks AUTH_ISSUER:${ISSUER} AUTH_AUDIENCE:${AUDIENCE} AUTH_ACCESS_HEADER:true`;
  server = await startServer({ port: 8789, env: { CART_VARS: `${unlimited.CART_VARS} ${vars}` } });
  url = server.url;
});

after(async () => {
  await server?.stop();
  jwksServer?.close();
});

const get = (token) => call('GET', me, { token, url });
const add = (token, sku, qty = 1) => call('POST', `${me}/lines`, { json: { sku, qty }, token, url });

function refused(res, code, reason) {
  assert.equal(res.status, 401, JSON.stringify(res.body));
  assert.equal(res.body.error.code, code);
  assert.equal(res.body.error.reason, reason);
  assert.match(res.headers.get('www-authenticate'), /^Bearer error="invalid_token"/);
}

test('RS256 and ES256 tokens of the provider open the user cart; a cold isolate\'s concurrent requests share one key set fetch', async () => {
  // The first requests of this worker, all at once: one fetches, the others wait for it.
  const tokens = await Promise.all(Array.from({ length: 8 }, (_, i) => issue(i % 2 ? 'rsa-1' : 'ec-1')));
  const burst = await Promise.all(tokens.map((token) => get(token)));
  assert.deepEqual(burst.map((r) => r.status), Array(8).fill(200));
  assert.equal(idp.fetches, 1);
  for (const kid of ['rsa-1', 'ec-1']) {
    const sub = newUserId(kid);
    assert.equal((await add(await issue(kid, { sub }), 'IDP', 2)).status, 200);
    const cart = await get(await issue(kid, { sub }));
    assert.equal(cart.status, 200);
    assert.equal(cart.body.lines.find((l) => l.sku === 'IDP')?.qty, 2);
  }
  // max-age=1 is below the 5-minute floor: still one fetch after it passed.
  await sleep(1500);
  assert.equal((await get(await issue('rsa-1'))).status, 200);
  assert.equal(idp.fetches, 1);
});

test('the bearer scheme is case-insensitive, and behind Cloudflare Access the Cf-Access-Jwt-Assertion header carries the token', async () => {
  const sub = newUserId('carried');
  const token = await issue('rsa-1', { sub });
  assert.equal((await add(token, 'CARRIED')).status, 200);
  for (const authorization of [`bearer ${token}`, `BEARER ${token}`]) {
    const res = await call('GET', me, { headers: { authorization }, url });
    assert.equal(res.body.lines.find((l) => l.sku === 'CARRIED')?.qty, 1, authorization.slice(0, 6));
  }
  // This worker sets AUTH_ACCESS_HEADER: the header Access adds carries the token, from a server (no Origin)
  // or the worker's own pages, never from a page elsewhere (Access's cookie goes with any request the browser
  // makes).
  const viaAccess = await call('GET', me, { headers: { 'cf-access-jwt-assertion': token }, url });
  assert.equal(viaAccess.body.lines.find((l) => l.sku === 'CARRIED')?.qty, 1);
  const sameOrigin = await call('GET', me, { headers: { 'cf-access-jwt-assertion': token, origin: url }, url });
  assert.equal(sameOrigin.status, 200);
  const elsewhere = await call('GET', me, { headers: { 'cf-access-jwt-assertion': token, origin: 'https://evil.example' }, url });
  assert.equal(elsewhere.status, 403);
  assert.equal(elsewhere.body.error.code, 'CORS_ORIGIN_NOT_ALLOWED');
  // The header is a carrier, not a credential: what it holds is verified like any token.
  refused(await call('GET', me, { headers: { 'cf-access-jwt-assertion': `${token.slice(0, -4)}AAAA` }, url }), 'INVALID_TOKEN', 'bad_signature');
  // A worker without AUTH_ACCESS_HEADER (the suite's main one) reads no such header.
  assert.equal((await call('GET', me, { headers: { 'cf-access-jwt-assertion': tokenFor(newUserId()) }, url: base })).status, 401);
});

test('a server with only a shared secret refuses provider tokens', async () => {
  // The suite's main server (with-dev-server.sh) sets CART_JWT_SECRET and no AUTH_JWKS_URL.
  refused(await call('GET', me, { token: await issue('rsa-1'), url: base }), 'INVALID_TOKEN', 'alg_not_allowed');
  refused(await call('GET', me, { token: await issue('ec-1'), url: base }), 'INVALID_TOKEN', 'alg_not_allowed');
  // The provider-only worker's refusal of shared-secret tokens is among the last tests below.
});

test('a token for the wrong issuer or audience is refused for what it is', async () => {
  refused(await get(await issue('rsa-1', { iss: 'https://someone-else.example/' })), 'INVALID_TOKEN', 'wrong_issuer');
  refused(await get(await issue('ec-1', { aud: 'another-app' })), 'INVALID_TOKEN', 'wrong_audience');
});

test('expired and not-yet-valid provider tokens are refused', async () => {
  refused(await get(await issue('rsa-1', { exp: now() - 120, iat: now() - 600 })), 'TOKEN_EXPIRED', 'expired');
  refused(await get(await issue('ec-1', { iat: now() + 600, exp: now() + 1200 })), 'INVALID_TOKEN', 'not_yet_valid');
});

test('alg none, an unknown crit header and an oversized token are refused', async () => {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const payload = enc({ sub: 'x', iss: ISSUER, aud: AUDIENCE, exp: now() + 600 });
  refused(await get(`${enc({ alg: 'none', kid: 'rsa-1' })}.${payload}.`), 'INVALID_TOKEN', 'alg_none');
  refused(await get(`${enc({ alg: 'none', kid: 'rsa-1' })}.${payload}.c2ln`), 'INVALID_TOKEN', 'alg_none');
  refused(await get(await issue('rsa-1', {}, { crit: ['exp'], exp: 1 })), 'INVALID_TOKEN', 'unknown_crit');
  refused(await get(await issue('ec-1', { pad: 'x'.repeat(9000) })), 'INVALID_TOKEN', 'too_large');
});

test('algorithm confusion: an HS256 token keyed with the provider\'s RSA public key is refused', async () => {
  const { jwk } = idp.keys.get('rsa-1');
  const claims = { sub: 'mallory', iss: ISSUER, aud: AUDIENCE, exp: now() + 600 };
  for (const key of [JSON.stringify(jwk), jwk.n]) {
    refused(await get(sign(claims, key, { alg: 'HS256', kid: 'rsa-1' })), 'INVALID_TOKEN', 'bad_signature');
  }
  // An ES256 token naming the RSA key's kid.
  const forged = await issue('ec-1', {}, { kid: 'rsa-1' });
  refused(await get(forged), 'INVALID_TOKEN', 'alg_mismatch');
  // A good header with another key's signature.
  const [h] = (await issue('rsa-1')).split('.');
  const [, p, s] = (await issue('rsa-1', { sub: 'someone' })).split('.');
  refused(await get(`${h}.${p}.${s.slice(0, -4)}AAAA`), 'INVALID_TOKEN', 'bad_signature');
});

test('a rotation mid-session: the new kid is fetched at once, the session goes on, made-up kids cost no fetch', async () => {
  const sub = newUserId('rotating');
  assert.equal((await add(await issue('rsa-1', { sub }), 'BEFORE')).status, 200);
  await newKey('rsa-2', 'RS256');
  publish('rsa-2', 'ec-1');
  const before = idp.fetches;
  const cart = await add(await issue('rsa-2', { sub }), 'AFTER');
  assert.equal(cart.status, 200);
  assert.deepEqual(cart.body.lines.map((l) => l.sku).sort(), ['AFTER', 'BEFORE'], 'the same cart');
  assert.equal(idp.fetches, before + 1);
  // Within 30 s of that fetch, an unknown kid is refused without fetching again.
  await newKey('never-published', 'ES256');
  refused(await get(await issue('never-published')), 'INVALID_TOKEN', 'unknown_kid');
  refused(await get(await issue('never-published')), 'INVALID_TOKEN', 'unknown_kid');
  assert.equal(idp.fetches, before + 1);
});

test('carts are keyed by issuer and user: the provider\'s, the shop\'s and the dev route\'s tokens for one user differ', async () => {
  const sub = newUserId('same');
  assert.equal((await add(await issue('ec-1', { sub }), 'FROM-IDP')).status, 200);
  const shop = await call('GET', me, { token: tokenFor(sub), url });
  assert.equal(shop.status, 200);
  assert.equal(shop.body.lineCount, 0);
  const dev = (await call('POST', '/v1/dev/token', { json: { userId: sub }, url })).body.token;
  assert.equal((await call('GET', me, { token: dev, url })).body.lineCount, 0);
  assert.equal((await get(await issue('ec-1', { sub }))).body.lineCount, 1);
});

test('the browser library, refused an expired token, resumes by itself when setToken brings one signed with a rotated key', async () => {
  assert.ok(globalThis.localStorage, 'run with --experimental-webstorage --localstorage-file=...');
  const sub = newUserId('browser');
  const cart = new CartClient(url, { storageKey: `idp-${process.pid}`, transport: 'websocket', autoConnect: false });
  const errors = [];
  cart.addEventListener('error', (e) => errors.push(e.detail.code));
  try {
    cart.login(await issue('ec-1', { sub, iat: now() - 7200, exp: now() - 3600 }));
    cart.add('KEPT', 1);
    cart.connect();
    await until(() => errors.length > 0);
    assert.deepEqual(errors, ['TOKEN_EXPIRED']);
    // The rotation test above fetched for an unknown kid; the next such fetch may come 30 s after it.
    await sleep(31_000);
    await newKey('ec-2', 'ES256');
    publish('ec-2', 'rsa-2');
    // The provider's silent refresh: a token under the new key, and nothing else from the page.
    const refreshed = await issue('ec-2', { sub });
    cart.setToken(refreshed);
    assert.equal(await cart.flush(15_000), true);
    const server = await get(refreshed);
    assert.deepEqual(server.body.lines.map((l) => [l.sku, l.qty]), [['KEPT', 1]]);
    assert.deepEqual(errors, ['TOKEN_EXPIRED'], 'no second error');
  } finally {
    cart.free();
  }
});

describe('a provider-only worker (no CART_JWT_SECRET, AUTH_USER_CLAIM=email) on a fresh isolate', () => {
  let byEmail;
  const at = (path, token, json) => call(json ? 'POST' : 'GET', path, { token, json, url: byEmail.url });
  // The browser library tells users apart by `sub`, so a session keeps its sub whichever claim names the cart.
  const email = (claims = {}) => ({ sub: newUserId('s'), email: `${newUserId('ann')}@example.com`, email_verified: true, ...claims });
  /** Waits out the worker's 5 s back-off after a failed fetch. */
  const backOff = () => sleep(5_500);
  function unavailable(res) {
    assert.equal(res.status, 503, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'AUTH_KEYS_UNAVAILABLE');
    assert.ok(Number(res.headers.get('retry-after')) > 0);
  }

  before(async () => {
    await newKey('rsa-p', 'RS256');
    idp.published.push(idp.keys.get('rsa-p').jwk);
    const vars = `AUTH_JWKS_URL:http://127.0.0.1:${jwksServer.address().port}/jwks AUTH_ISSUER:${ISSUER} AUTH_AUDIENCE:${AUDIENCE} AUTH_USER_CLAIM:email`;
    byEmail = await startServer({ port: 8788, env: { CART_NO_SECRET: '1', CART_VARS: `${unlimited.CART_VARS} ${vars}` } });
  });
  after(async () => {
    idp.mode = 'ok';
    await byEmail?.stop();
  });

  test('a key set that cannot be fetched is a 503 the browser library waits out as told, not a refusal', async () => {
    // A fresh isolate holds no keys: with the provider down, nothing can verify the token.
    idp.mode = 'down';
    const claims = email();
    const cart = new CartClient(byEmail.url, { storageKey: `idp-down-${process.pid}`, transport: 'websocket', autoConnect: false });
    const errors = [];
    cart.addEventListener('error', (e) => errors.push(e.detail.code));
    try {
      cart.login(await issue('rsa-p', claims));
      cart.add('WAITED', 1);
      const requests = countRequests();
      cart.connect();
      await sleep(3_000);
      // The socket, refused with 503, and the HTTP probe asking why, answered 503 with Retry-After: 5. The
      // library's own back-off would have tried again several times by now.
      assert.equal(requests.stop(), 2);
      assert.equal(cart.view().status, 'offline');
      assert.deepEqual(errors, [], 'a 503 is not a refused token');
      unavailable(await at(me, await issue('rsa-p', email())));
      // A silent refresh meanwhile does not cut the wait short.
      const again = countRequests();
      cart.setToken(await issue('rsa-p', claims));
      await sleep(1_000);
      assert.equal(again.stop(), 0);
      idp.mode = 'ok';
      assert.equal(await cart.flush(20_000), true);
      const server = await at(me, await issue('rsa-p', claims));
      assert.deepEqual(server.body.lines.map((l) => [l.sku, l.qty]), [['WAITED', 1]]);
    } finally {
      idp.mode = 'ok';
      cart.free();
    }
  });

  test('a key set that redirects, runs past 64 KiB, announces more, holds no usable key or never finishes is a failed fetch (503)', async () => {
    // A new worker for a cold cache: this one holds keys now. Its provider-only cache is fresh again after each
    // failure only once the back-off has passed.
    const cold = await startServer({ port: 8786, env: { CART_NO_SECRET: '1', CART_VARS: `${unlimited.CART_VARS} AUTH_JWKS_URL:http://127.0.0.1:${jwksServer.address().port}/jwks AUTH_ISSUER:${ISSUER} AUTH_AUDIENCE:${AUDIENCE}` } });
    try {
      // How long each may take: the fetch timeout only for the body that stalls.
      for (const [mode, ms] of [['redirect', 2_000], ['endless', 3_000], ['long', 2_000], ['empty', 2_000], ['stall', 8_000]]) {
        idp.mode = mode;
        const started = Date.now();
        const res = await call('GET', me, { token: await issue('rsa-p'), url: cold.url });
        unavailable(res);
        assert.ok(Date.now() - started < ms, `${mode}: answered in ${Date.now() - started} ms, within ${ms}`);
        await backOff();
      }
      idp.mode = 'ok';
      assert.equal((await call('GET', me, { token: await issue('rsa-p'), url: cold.url })).status, 200);
    } finally {
      idp.mode = 'ok';
      await cold.stop();
    }
  });

  test('an unknown kid while the key set cannot be fetched is a 503, not a 401', async () => {
    assert.equal((await at(me, await issue('rsa-p', email()))).status, 200, 'keys are held');
    await newKey('rsa-3', 'RS256');
    idp.mode = 'down';
    try {
      unavailable(await at(me, await issue('rsa-3', email())));
      unavailable(await at(me, await issue('rsa-3', email())));
      // Keys already held keep working.
      assert.equal((await at(me, await issue('rsa-p', email()))).status, 200);
    } finally {
      idp.mode = 'ok';
    }
  });

  test('AUTH_USER_CLAIM=email names the user only with email_verified, and one address is one cart', async () => {
    const address = email();
    const onePhone = await issue('rsa-p', { ...address, sub: 'device-session-1' });
    const otherPhone = await issue('rsa-p', { ...address, sub: 'device-session-2' });
    assert.equal((await at(`${me}/lines`, onePhone, { sku: 'BY-EMAIL', qty: 1 })).status, 200);
    const cart = await at(me, otherPhone);
    assert.equal(cart.body.lines.find((l) => l.sku === 'BY-EMAIL')?.qty, 1, 'one cart for the e-mail');
    refused(await at(me, await issue('rsa-p', { ...address, email_verified: false })), 'INVALID_TOKEN', 'email_not_verified');
    refused(await at(me, await issue('rsa-p', { email: address.email })), 'INVALID_TOKEN', 'email_not_verified');
    refused(await at(me, await issue('rsa-p', {})), 'INVALID_TOKEN', 'email_not_verified');
  });

  test('a shared-secret token is refused where only the provider is configured', async () => {
    refused(await at(me, tokenFor(newUserId())), 'INVALID_TOKEN', 'alg_not_allowed');
  });
});
