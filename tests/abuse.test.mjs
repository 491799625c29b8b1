// Slow, abandoned and truncated traffic: each gets a coded error or a clean close, the cart stays as it was, and the
// server keeps serving everyone else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { base, call, newCartId, upgradeAnswer } from './support/cart.mjs';
import { SocketPeer, httpSync, qtyOf, addEntry, A } from './support/peer.mjs';

const { hostname, port } = new URL(base);
const cart = (id) => `/v1/carts/${id}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Opens a raw TCP connection to the server under test. */
function connect() {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port) }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Writes raw HTTP and resolves to everything the server answers until it closes (or `ms` pass). */
async function rawExchange(chunks, { delayMs = 0, ms = 15_000 } = {}) {
  const socket = await connect();
  let answer = '';
  socket.on('data', (d) => { answer += d; });
  const closed = new Promise((resolve) => socket.once('close', resolve));
  for (const chunk of chunks) {
    socket.write(chunk);
    if (delayMs) await sleep(delayMs);
  }
  await Promise.race([closed, sleep(ms)]);
  socket.destroy();
  return answer;
}

const lines = async (id) => (await call('GET', cart(id))).body.lines.map((l) => [l.sku, l.qty]);

test('a request abandoned halfway through its body changes nothing, and the cart keeps answering', async () => {
  const id = newCartId();
  await call('POST', `${cart(id)}/lines`, { json: { sku: 'KEEP', qty: 2 } });
  const before = await lines(id);
  const body = JSON.stringify({ sku: 'HALF', qty: 5 });
  for (let i = 0; i < 20; i++) {
    const socket = await connect();
    socket.write(`POST ${cart(id)}/lines HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${body.length}\r\n\r\n${body.slice(0, body.length / 2)}`);
    await sleep(20);
    socket.destroy();
  }
  await sleep(200);
  assert.deepEqual(await lines(id), before, 'no half-sent add was applied');
  const after = await call('POST', `${cart(id)}/lines`, { json: { sku: 'KEEP', qty: 1 } });
  assert.equal(after.status, 200);
  assert.equal(after.body.lines.find((l) => l.sku === 'KEEP').qty, 3);
});

test('a body trickled a few bytes at a time is applied exactly once', async () => {
  const id = newCartId();
  const body = JSON.stringify({ sku: 'SLOW', qty: 2 });
  const head = `POST ${cart(id)}/lines HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
  const chunks = [head, ...body.match(/.{1,3}/g)];
  const answer = await rawExchange(chunks, { delayMs: 100 });
  assert.match(answer, /^HTTP\/1\.1 200/, answer.slice(0, 80));
  assert.deepEqual(await lines(id), [['SLOW', 2]]);
});

test('a body shorter than its Content-Length, then a close, gets no acknowledgement and changes nothing', async () => {
  const id = newCartId();
  const body = JSON.stringify({ sku: 'SHORT', qty: 1 });
  const socket = await connect();
  let answer = '';
  socket.on('data', (d) => { answer += d; });
  socket.write(`POST ${cart(id)}/lines HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${body.length + 10}\r\n\r\n${body}`);
  socket.end(); // half-close: the promised bytes never come
  await Promise.race([new Promise((r) => socket.once('close', r)), sleep(10_000)]);
  socket.destroy();
  assert.doesNotMatch(answer, /^HTTP\/1\.1 2/, 'a short body is never acknowledged');
  assert.deepEqual(await lines(id), []);
});

test('fifty connections abandoned mid-handshake leave the server serving', async () => {
  const id = newCartId();
  const sockets = [];
  for (let i = 0; i < 50; i++) {
    const socket = await connect();
    // A WebSocket upgrade whose headers never finish.
    socket.write(`GET ${cart(id)}/sync?layout=3 HTTP/1.1\r\nHost: ${hostname}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`);
    sockets.push(socket);
  }
  const res = await call('POST', `${cart(id)}/lines`, { json: { sku: 'STILL', qty: 1 } });
  assert.equal(res.status, 200);
  for (const s of sockets) s.destroy();
  assert.equal((await call('GET', '/health')).status, 200);
});

test('WebSockets dropped without a close frame do not stop pushes to the other devices', async () => {
  const id = newCartId();
  const live = new SocketPeer(`${cart(id)}/sync?layout=3`);
  try {
    await live.opened;
    // Five devices complete the upgrade, then vanish: their TCP connections die, no close frame is ever sent.
    for (let i = 0; i < 5; i++) {
      const socket = await connect();
      const upgraded = new Promise((resolve) => socket.once('data', (d) => resolve(String(d))));
      socket.write(`GET ${cart(id)}/sync?layout=3 HTTP/1.1\r\nHost: ${hostname}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${Buffer.from(`device-${i}-key!`).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      assert.match(await upgraded, /^HTTP\/1\.1 101/);
      socket.destroy();
    }
    await call('POST', `${cart(id)}/lines`, { json: { sku: 'AFTER-DROP', qty: 2 } });
    await live.until((doc) => qtyOf(doc, 'AFTER-DROP') === 2);
    const late = new SocketPeer(`${cart(id)}/sync?layout=3`);
    try {
      await late.opened;
      await late.until((doc) => qtyOf(doc, 'AFTER-DROP') === 2);
    } finally {
      late.close();
    }
  } finally {
    live.close();
  }
});

test('a real sync message cut short is refused on HTTP and WebSocket, and the cart is unchanged', async () => {
  const id = newCartId();
  await call('POST', `${cart(id)}/lines`, { json: { sku: 'BEFORE', qty: 1 } });
  const before = await lines(id);
  // A message that carries a change: after one exchange the peer knows what the server has and sends its add.
  let doc = A.change(A.init(), (d) => { d.adds = [addEntry(1, 'CUT')]; });
  let state = A.initSyncState();
  let first;
  [state, first] = A.generateSyncMessage(doc, state);
  const reply = await fetch(`${base}${cart(id)}/sync?layout=3`, {
    method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: first,
  });
  assert.equal(reply.status, 200);
  [doc, state] = A.receiveSyncMessage(doc, state, new Uint8Array(await reply.arrayBuffer()));
  let message;
  [state, message] = A.generateSyncMessage(doc, state);
  assert.ok(message && message.length > 64, 'the second message carries the change');
  for (const cut of [1, Math.floor(message.length / 2), message.length - 1]) {
    const res = await fetch(`${base}${cart(id)}/sync?layout=3`, {
      method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: message.slice(0, cut),
    });
    assert.equal(res.status, 400, `cut at ${cut}`);
    assert.equal((await res.json()).error.code, 'MALFORMED_SYNC_MESSAGE');
  }
  const peer = new SocketPeer(`${cart(id)}/sync?layout=3`);
  await peer.opened;
  peer.ws.send(message.slice(0, Math.floor(message.length / 2)));
  const closed = await peer.closedPromise;
  assert.equal(closed.code, 1007);
  assert.deepEqual(await lines(id), before);
});

/**
 * A sync message carrying one checksum-valid change that an attacker forged from a real one (decode, point every
 * op at an object nobody created, encode again): the shape that made Automerge 0.12 panic and trap the object.
 */
async function forgedMessage(id) {
  const { doc } = await httpSync(`${cart(id)}/sync?layout=3`, A.init());
  const edited = A.change(A.clone(doc), (d) => d.adds.push(addEntry(1, 'EVIL')));
  const decoded = A.decodeChange(A.getLastLocalChange(edited));
  for (const op of decoded.ops) op.obj = `999@${decoded.actor}`;
  const forged = A.encodeChange(decoded);
  return A.encodeSyncMessage({ heads: [A.decodeChange(forged).hash], need: [], have: [], changes: [forged] });
}

test('a forged change naming an object that does not exist gets 400 INVALID_CHANGE within a second over HTTP sync, and the object keeps serving', async () => {
  const id = newCartId();
  const before = (await call('POST', `${cart(id)}/lines`, { json: { sku: 'KEEP', qty: 2 } })).body;
  const message = await forgedMessage(id);
  assert.ok(message.length < 400, `a small message (${message.length} bytes)`);
  const started = Date.now();
  const res = await fetch(`${base}${cart(id)}/sync?layout=3`, {
    method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: message,
  });
  assert.ok(Date.now() - started < 1000, 'answered within a second');
  assert.equal(res.status, 400);
  assert.equal((await res.json()).error.code, 'INVALID_CHANGE');
  // The same object answers at once, unchanged, and still takes writes.
  const after = (await call('GET', cart(id))).body;
  assert.equal(after.version, before.version);
  const write = await call('POST', `${cart(id)}/lines`, { json: { sku: 'KEEP', qty: 1 } });
  assert.equal(write.status, 200);
  assert.equal(write.body.lines.find((l) => l.sku === 'KEEP').qty, 3);
});

test('a forged change over the WebSocket closes that socket with 1007 INVALID_CHANGE, and other sockets of the cart keep syncing', async () => {
  const id = newCartId();
  await call('POST', `${cart(id)}/lines`, { json: { sku: 'KEEP', qty: 2 } });
  const message = await forgedMessage(id);
  const [attacker, bystander] = [new SocketPeer(`${cart(id)}/sync?layout=3`), new SocketPeer(`${cart(id)}/sync?layout=3`)];
  try {
    await Promise.all([attacker.opened, bystander.opened]);
    await bystander.until((doc) => qtyOf(doc, 'KEEP') === 2);
    const started = Date.now();
    attacker.ws.send(message);
    const closed = await attacker.closedPromise;
    assert.ok(Date.now() - started < 1000, 'closed within a second');
    assert.equal(closed.code, 1007);
    assert.match(closed.reason, /INVALID_CHANGE/);
    await call('POST', `${cart(id)}/lines`, { json: { sku: 'AFTER', qty: 1 } });
    await bystander.until((doc) => qtyOf(doc, 'AFTER') === 1);
    assert.equal(bystander.closed, null, 'the other socket stayed open');
  } finally {
    attacker.close();
    bystander.close();
  }
});

// Defence in depth: the shipped wasm unwinds on panic. These use dev-build fault injection (`/v1/dev/...`, cargo
// feature `dev`): a sync message applied past the checks, so Automerge itself panics, and a panic in the object's
// own code. Either way the answer is coded, nothing is kept, and the wasm instance is not reset: a socket open on
// another cart (another object of the same isolate) keeps its connection and its pushes.
async function withBystander(fn) {
  const other = newCartId();
  await call('POST', `${cart(other)}/lines`, { json: { sku: 'ELSEWHERE', qty: 1 } });
  const bystander = new SocketPeer(`${cart(other)}/sync?layout=3`);
  try {
    await bystander.opened;
    await bystander.until((doc) => qtyOf(doc, 'ELSEWHERE') === 1);
    await fn();
    await call('POST', `${cart(other)}/lines`, { json: { sku: 'ELSEWHERE', qty: 1 } });
    await bystander.until((doc) => qtyOf(doc, 'ELSEWHERE') === 2);
    assert.equal(bystander.closed, null, 'the socket on the other cart stayed open');
  } finally {
    bystander.close();
  }
}

test('a forged change that makes Automerge itself panic gets 400 AUTOMERGE_PANIC, the cart is as before, and no other cart notices', async () => {
  await withBystander(async () => {
    const id = newCartId();
    const before = (await call('POST', `${cart(id)}/lines`, { json: { sku: 'KEEP', qty: 2 } })).body;
    const message = await forgedMessage(id);
    const res = await fetch(`${base}/v1/dev/carts/${id}/sync-unchecked`, {
      method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: message,
    });
    assert.equal(res.status, 400);
    const error = (await res.json()).error;
    assert.equal(error.code, 'AUTOMERGE_PANIC');
    assert.match(error.message, /Missing from Index/);
    const after = (await call('GET', cart(id))).body;
    assert.equal(after.version, before.version);
    assert.deepEqual(after.lines.map((l) => [l.sku, l.qty]), [['KEEP', 2]]);
    const write = await call('POST', `${cart(id)}/lines`, { json: { sku: 'KEEP', qty: 1 } });
    assert.equal(write.status, 200);
    assert.equal(write.body.lines.find((l) => l.sku === 'KEEP').qty, 3);
    // What storage holds loads to the same cart: nothing half-applied was written with that write.
    assert.equal((await call('POST', `/v1/dev/carts/${id}/evict`)).status, 204);
    assert.deepEqual((await call('GET', cart(id))).body.lines, write.body.lines);
  });
});

test('a panic in the object\'s own code gets 500 INTERNAL, and the next request serves the cart from storage', async () => {
  await withBystander(async () => {
    const id = newCartId();
    const before = (await call('POST', `${cart(id)}/lines`, { json: { sku: 'KEEP', qty: 2 } })).body;
    // The route adds a line in memory, then panics before storing it.
    const res = await call('POST', `/v1/dev/carts/${id}/panic`);
    assert.equal(res.status, 500);
    assert.equal(res.body.error.code, 'INTERNAL');
    const after = (await call('GET', cart(id))).body;
    assert.equal(after.version, before.version);
    assert.equal(after.lines.find((l) => l.sku === 'PANIC-LEFTOVER'), undefined, 'the half-done work was dropped');
    const write = await call('POST', `${cart(id)}/lines`, { json: { sku: 'KEEP', qty: 1 } });
    assert.equal(write.status, 200);
    assert.equal(write.body.lines.find((l) => l.sku === 'KEEP').qty, 3);
  });
});

test('a cart takes at most 32 sockets: the next upgrade gets 429 TOO_MANY_SOCKETS, and closing one makes room', async () => {
  const id = newCartId();
  const peers = [];
  try {
    for (let i = 0; i < 32; i++) peers.push(new SocketPeer(`${cart(id)}/sync?layout=3`));
    await Promise.all(peers.map((p) => p.opened));
    const refused = await upgradeAnswer(`${cart(id)}/sync?layout=3`);
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error.code, 'TOO_MANY_SOCKETS');
    assert.ok(Number(refused.headers['retry-after']) >= 1);
    peers.pop().close();
    let answer;
    for (let i = 0; i < 50; i++) {
      answer = await upgradeAnswer(`${cart(id)}/sync?layout=3`);
      if (answer.status === 101) break;
      await sleep(100);
    }
    assert.equal(answer.status, 101, 'room again once a socket closed');
  } finally {
    for (const p of peers) p.close();
  }
});

test('a chunked JSON body past 64 KiB gets 413 PAYLOAD_TOO_LARGE, read no further than the cap', async () => {
  const id = newCartId();
  const piece = `${' '.repeat(16 * 1024)}`;
  const chunk = `${piece.length.toString(16)}\r\n${piece}\r\n`;
  const head = `POST ${cart(id)}/lines HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`;
  // 8 chunks of 16 KiB = 128 KiB, never terminated: the answer must come from the cap, not from the end.
  const answer = await rawExchange([head, ...Array(8).fill(chunk)], { ms: 10_000 });
  assert.match(answer, /^HTTP\/1\.1 413/);
  assert.match(answer, /PAYLOAD_TOO_LARGE/);
  assert.deepEqual(await lines(id), []);
});
