// The login merge of a 120-line guest cart into a 120-line user cart (60 skus shared, keep the larger quantity),
// done the same way with the npm packages @automerge/automerge and yjs, in this Node process. `make bench-client`
// runs it after the wasm measurements and passes their medians in (WASM_NODE_US, WASM_CHROMIUM_US) to print one
// table. Each library gets its idiomatic model of a cart: a map sku -> { qty } (a counter in Automerge).
import * as A from '@automerge/automerge';
import * as Y from 'yjs';

const ROUNDS = 60;
const sku = (i) => `SKU-${i}`;
const qty = (i) => 1 + (i % 5);

function median(run) {
  const samples = [];
  for (let r = 0; r < ROUNDS; r++) samples.push(run());
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

function timed(setup, merge) {
  return median(() => {
    const input = setup();
    const started = process.hrtime.bigint();
    merge(input);
    return Number(process.hrtime.bigint() - started) / 1e3;
  });
}

// The cart's rules in both: at most 120 lines, so guest-only lines that do not fit are left out (as in the core).
const MAX_LINES = 120;

// Automerge (npm): user and guest docs; the merge reads the guest's lines and writes max quantities into the user's.
function automergeCart(from, to) {
  return A.change(A.init(), (d) => {
    d.lines = {};
    for (let i = from; i < to; i++) d.lines[sku(i)] = { qty: new A.Counter(qty(i)), selected: true };
  });
}
const amGuest = automergeCart(60, 180);
const amUserBytes = A.save(automergeCart(0, 120));
const automergeUs = timed(() => A.load(amUserBytes), (user) => {
  A.change(user, (d) => {
    let count = Object.keys(d.lines).length;
    for (const [k, line] of Object.entries(amGuest.lines)) {
      const mine = d.lines[k];
      const theirs = line.qty.value;
      if (mine) {
        if (theirs > mine.qty.value) mine.qty.increment(theirs - mine.qty.value);
      } else if (count < MAX_LINES) {
        d.lines[k] = { qty: new A.Counter(theirs), selected: true };
        count++;
      }
    }
  });
});
// Automerge's own history merge of the two documents, for reference (not a policy merge: it unions histories).
const amGuestBytes = A.save(amGuest);
const automergeHistoryUs = timed(() => [A.load(amUserBytes), A.load(amGuestBytes)], ([user, guest]) => A.merge(user, guest));

// Yjs: a Y.Map of sku -> Y.Map { qty, selected }; the merge is one transaction on the user doc.
function yjsCart(from, to) {
  const doc = new Y.Doc();
  const lines = doc.getMap('lines');
  doc.transact(() => {
    for (let i = from; i < to; i++) {
      const line = new Y.Map();
      line.set('qty', qty(i));
      line.set('selected', true);
      lines.set(sku(i), line);
    }
  });
  return doc;
}
const yGuest = yjsCart(60, 180).getMap('lines').toJSON();
const yUserUpdate = Y.encodeStateAsUpdate(yjsCart(0, 120));
const yjsUs = timed(() => {
  const doc = new Y.Doc();
  Y.applyUpdate(doc, yUserUpdate);
  return doc;
}, (user) => {
  const lines = user.getMap('lines');
  user.transact(() => {
    for (const [k, line] of Object.entries(yGuest)) {
      const mine = lines.get(k);
      if (!mine) {
        if (lines.size >= MAX_LINES) continue;
        const fresh = new Y.Map();
        fresh.set('qty', line.qty);
        fresh.set('selected', true);
        lines.set(k, fresh);
      } else if (line.qty > mine.get('qty')) {
        mine.set('qty', line.qty);
      }
    }
  });
});

const wasmNode = Number(process.env.WASM_NODE_US);
const wasmChromium = Number(process.env.WASM_CHROMIUM_US);
const f = (us) => (Number.isFinite(us) ? `${us.toFixed(1)} µs` : 'not measured');
const ratio = (us) => (Number.isFinite(us) ? (us / automergeUs).toFixed(2) : '');
console.log(`\nLogin merge, 120 guest lines into 120 user lines (60 shared, max), median of ${ROUNDS}, one run.\n`);
console.log('| implementation | median | vs @automerge/automerge |');
console.log('|---|---|---|');
console.log(`| edge-cart core in wasm, Node ${process.versions.node} | ${f(wasmNode)} | ${ratio(wasmNode)} |`);
console.log(`| edge-cart core in wasm, headless Chromium | ${f(wasmChromium)} | ${ratio(wasmChromium)} |`);
console.log(`| @automerge/automerge 3.5.0 (npm), same policy merge | ${f(automergeUs)} | 1.00 |`);
console.log(`| @automerge/automerge, history merge (A.merge), for reference | ${f(automergeHistoryUs)} | ${ratio(automergeHistoryUs)} |`);
console.log(`| yjs 13.6.33 (npm), same policy merge | ${f(yjsUs)} | ${ratio(yjsUs)} |`);
