// Sign-in with the shop's own identity provider: a worker configured with AUTH_JWKS_URL, AUTH_ISSUER and
// AUTH_AUDIENCE verifies RS256 and ES256 tokens against a real key set, served on loopback by this file with keys
// generated per run and tokens signed by jose, as Auth0, Clerk, Supabase, Firebase or Cloudflare Access would.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { initSync, CartClient } from '../client-wasm/pkg/cart_client.js';
import { call, newUserId, sign, startServer, tokenFor, unlimited } from './support/cart.mjs';

const ISSUER = 'https://idp.test.example/';
const AUDIENCE = 'edge-cart-shop';
const me = '/v1/me/cart';
const now = () => Math.floor(Date.now() / 1000);

/** The identity provider: key pairs by kid, the published set, and how often it was fetched. */
const idp = { keys: new Map(), published: [], fetches: 0, cacheControl: 'public, max-age=1', down: false };

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
    if (req.url !== '/jwks') { res.writeHead(404).end(); return; }
    idp.fetches++;
    if (idp.down) { res.writeHead(503).end('down'); return; }
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': idp.cacheControl });
    res.end(JSON.stringify({ keys: idp.published }));
  });
  await new Promise((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  const vars = `AUTH_JWKS_URL:http://127.0.0.1:${jwksServer.address().port}/jwks AUTH_ISSUER:${ISSUER} AUTH_AUDIENCE:${AUDIENCE}`;
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

test('RS256 and ES256 tokens of the provider open the user cart, and the key set is fetched once', async () => {
  for (const kid of ['rsa-1', 'ec-1']) {
    const sub = newUserId(kid);
    assert.equal((await add(await issue(kid, { sub }), 'IDP', 2)).status, 200);
    const cart = await get(await issue(kid, { sub }));
    assert.equal(cart.status, 200);
    assert.equal(cart.body.lines.find((l) => l.sku === 'IDP')?.qty, 2);
  }
  // max-age=1 is below the 5-minute floor: still one fetch after it passed.
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal((await get(await issue('rsa-1'))).status, 200);
  assert.equal(idp.fetches, 1);
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

test('the browser library follows a provider\'s silent refresh across a key rotation with setToken', async () => {
  assert.ok(globalThis.localStorage, 'run with --experimental-webstorage --localstorage-file=...');
  const sub = newUserId('browser');
  const cart = new CartClient(url, { storageKey: `idp-${process.pid}`, transport: 'websocket' });
  try {
    cart.login(await issue('ec-1', { sub }));
    cart.add('FIRST', 1);
    assert.equal(await cart.flush(), true);
    // The rotation test above fetched for an unknown kid; the next such fetch may come 30 s after it.
    await new Promise((r) => setTimeout(r, 31_000));
    await newKey('ec-2', 'ES256');
    publish('ec-2', 'rsa-2');
    const refreshed = await issue('ec-2', { sub });
    cart.setToken(refreshed);
    cart.disconnect();
    cart.add('SECOND', 1);
    cart.connect(); // a new connection, authenticated with the refreshed token under the new key
    assert.equal(await cart.flush(), true);
    const server = await get(refreshed);
    assert.deepEqual(server.body.lines.map((l) => l.sku).sort(), ['FIRST', 'SECOND']);
  } finally {
    cart.free();
  }
});

test('a key set that cannot be fetched is a 503 the client retries, not a 401; AUTH_USER_CLAIM names the user', async () => {
  const vars = `AUTH_JWKS_URL:http://127.0.0.1:${jwksServer.address().port}/jwks AUTH_ISSUER:${ISSUER} AUTH_AUDIENCE:${AUDIENCE} AUTH_USER_CLAIM:email`;
  const byEmail = await startServer({ port: 8788, env: { CART_VARS: `${unlimited.CART_VARS} ${vars}` } });
  try {
    // A fresh isolate holds no keys: with the provider down, nothing can verify the token.
    idp.down = true;
    const down = await call('GET', me, { token: await issue('rsa-2', { email: 'x@example.com' }), url: byEmail.url });
    assert.equal(down.status, 503);
    assert.equal(down.body.error.code, 'AUTH_KEYS_UNAVAILABLE');
    assert.ok(Number(down.headers.get('retry-after')) > 0);
    idp.down = false;
    // The worker waits 5 s after a failed fetch before it fetches again.
    await new Promise((r) => setTimeout(r, 5_500));

    const email = `${newUserId('ann')}@example.com`;
    const onePhone = await issue('rsa-2', { sub: 'device-session-1', email });
    const otherPhone = await issue('rsa-2', { sub: 'device-session-2', email });
    assert.equal((await call('POST', `${me}/lines`, { json: { sku: 'BY-EMAIL', qty: 1 }, token: onePhone, url: byEmail.url })).status, 200);
    const cart = await call('GET', me, { token: otherPhone, url: byEmail.url });
    assert.equal(cart.body.lines.find((l) => l.sku === 'BY-EMAIL')?.qty, 1, 'one cart for the e-mail');
    refused(await call('GET', me, { token: await issue('rsa-2', {}), url: byEmail.url }), 'INVALID_TOKEN', 'bad_user_claim');
  } finally {
    idp.down = false;
    await byEmail.stop();
  }
});
