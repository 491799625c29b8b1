// The Automerge sync protocol over WebSocket (live push) and over HTTP, with the official JS Automerge as the peer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { base, call, newCartId } from './support/cart.mjs';
import { SocketPeer, httpSync, qtyOf, heads, addEntry, A, LAYOUT } from './support/peer.mjs';

const cart = (id) => `/v1/carts/${id}`;

test('a WebSocket client receives a change made over HTTP without asking', async () => {
  const id = newCartId();
  await call('POST', `${cart(id)}/lines`, { json: { sku: 'FIRST', qty: 1 } });
  const peer = new SocketPeer(`${cart(id)}/sync`);
  try {
    await peer.opened;
    await peer.until((doc) => qtyOf(doc, 'FIRST') === 1);
    await call('POST', `${cart(id)}/lines`, { json: { sku: 'PUSHED', qty: 3 } });
    await peer.until((doc) => qtyOf(doc, 'PUSHED') === 3);
    const view = (await call('GET', cart(id))).body;
    await peer.until((doc) => heads(doc).join('.') === view.version);
  } finally {
    peer.close();
  }
});

test('two sockets editing concurrently converge, and the server agrees', async () => {
  const id = newCartId();
  await call('POST', `${cart(id)}/lines`, { json: { sku: 'SHARED', qty: 1 } });
  const [a, b] = [new SocketPeer(`${cart(id)}/sync`), new SocketPeer(`${cart(id)}/sync`)];
  try {
    await Promise.all([a.opened, b.opened]);
    await Promise.all([a.until((d) => qtyOf(d, 'SHARED') === 1), b.until((d) => qtyOf(d, 'SHARED') === 1)]);
    // Concurrent adds, following the cart's layout: one list element per add.
    a.change((d) => { d.adds.push(addEntry(2, 'SHARED')); d.adds.push(addEntry(1, 'ONLY-A')); });
    b.change((d) => { d.adds.push(addEntry(4, 'SHARED')); d.adds.push(addEntry(1, 'ONLY-B')); });
    const done = (d) => qtyOf(d, 'SHARED') === 7 && qtyOf(d, 'ONLY-A') === 1 && qtyOf(d, 'ONLY-B') === 1;
    await Promise.all([a.until(done), b.until(done)]);
    await a.until((d) => heads(d).join() === heads(b.doc).join());
    const view = (await call('GET', cart(id))).body;
    assert.deepEqual(
      Object.fromEntries(view.lines.map((l) => [l.sku, l.qty])),
      { SHARED: 7, 'ONLY-A': 1, 'ONLY-B': 1 },
    );
    assert.equal(view.version, heads(a.doc).join('.'));
  } finally {
    a.close();
    b.close();
  }
});

test('a garbage sync frame closes the socket with 1007 and leaves the cart unchanged', async () => {
  const id = newCartId();
  const before = (await call('POST', `${cart(id)}/lines`, { json: { sku: 'KEEP', qty: 2 } })).body;
  const peer = new SocketPeer(`${cart(id)}/sync`);
  await peer.opened;
  peer.ws.send(new Uint8Array([0x42, 0xff, 0x00, 0x13, 0x37]));
  const closed = await peer.closedPromise;
  assert.equal(closed.code, 1007);
  assert.match(closed.reason, /MALFORMED_SYNC_MESSAGE/);
  const after = (await call('GET', cart(id))).body;
  assert.equal(after.version, before.version);
});

test('a text frame closes the socket with 1003: the protocol is binary', async () => {
  const peer = new SocketPeer(`${cart(newCartId())}/sync`);
  await peer.opened;
  peer.ws.send('hello');
  const closed = await peer.closedPromise;
  assert.equal(closed.code, 1003);
});

test('one-shot HTTP sync brings a fresh client the cart and takes its changes back', async () => {
  const id = newCartId();
  await call('POST', `${cart(id)}/lines`, { json: { sku: 'SERVER', qty: 2 } });
  let { doc, state } = await httpSync(`${cart(id)}/sync`, A.init());
  assert.equal(qtyOf(doc, 'SERVER'), 2);
  doc = A.change(doc, (d) => d.adds.push(addEntry(5, 'CLIENT')));
  ({ doc } = await httpSync(`${cart(id)}/sync`, doc, state));
  const view = (await call('GET', cart(id))).body;
  assert.deepEqual(Object.fromEntries(view.lines.map((l) => [l.sku, l.qty])), { SERVER: 2, CLIENT: 5 });
  assert.equal(view.version, heads(doc).join('.'));
});

test('an HTTP sync pushes its changes to connected sockets', async () => {
  const id = newCartId();
  const peer = new SocketPeer(`${cart(id)}/sync`);
  try {
    await peer.opened;
    let { doc } = await httpSync(`${cart(id)}/sync`, A.init());
    doc = A.change(doc, (d) => d.adds.push(addEntry(3, 'VIA-HTTP')));
    await httpSync(`${cart(id)}/sync`, doc);
    await peer.until((d) => qtyOf(d, 'VIA-HTTP') === 3);
  } finally {
    peer.close();
  }
});

test('a replica announcing an older cart layout is told to upgrade with 426 before anything is exchanged, over HTTP and the socket upgrade', async () => {
  const id = newCartId();
  await call('POST', `${cart(id)}/lines`, { json: { sku: 'KEEP', qty: 1 } });
  const [, hello] = A.generateSyncMessage(A.init(), A.initSyncState());
  const post = (query) => fetch(`${base}${cart(id)}/sync${query}`, {
    method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: hello,
  });
  const older = await post('?layout=1');
  assert.equal(older.status, 426);
  assert.equal((await older.json()).error.code, 'UPGRADE_REQUIRED');
  const garbage = await post('?layout=two');
  assert.equal(garbage.status, 400);
  assert.equal((await garbage.json()).error.code, 'INVALID_LAYOUT');
  for (const query of ['?layout=2', '']) {
    const stale = await post(query);
    assert.equal(stale.status, 426, `layout announced as ${query || 'nothing'}`);
    assert.equal((await stale.json()).error.code, 'UPGRADE_REQUIRED');
  }
  const current = await post(`?layout=${LAYOUT}`);
  assert.equal(current.status, 200);
  await current.arrayBuffer();
  // A browser sees a refused handshake as a socket that never opens.
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}${cart(id)}/sync?layout=1`);
  const outcome = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve('no answer'), 5000);
    const done = (what) => { clearTimeout(timer); resolve(what); };
    ws.addEventListener('open', () => done('open'));
    ws.addEventListener('error', () => done('refused'));
    ws.addEventListener('close', () => done('refused'));
  });
  assert.equal(outcome, 'refused');
  const live = new SocketPeer(`${cart(id)}/sync?layout=${LAYOUT}`);
  try {
    await live.opened;
    await live.until((doc) => qtyOf(doc, 'KEEP') === 1);
  } finally {
    live.close();
  }
});
