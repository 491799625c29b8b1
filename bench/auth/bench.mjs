// RS256 and ES256 JWT verification: the runtime's Web Crypto against pure-Rust crates compiled to wasm
// (bench/auth/rust). Prints one markdown table of µs per verification and the wasm bytes the crate path adds, plus
// the sizes behind that column. bench/auth/run.sh builds the wasm first; this script only reads it.
// Usage: node bench/auth/bench.mjs [--iters N] [--out DIR]   (DIR holds {empty,verify}[.opt].wasm)
import { webcrypto, createPublicKey, verify as nodeVerify } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const { subtle } = webcrypto;
const here = path.dirname(fileURLToPath(import.meta.url));
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const ITERS = Number(arg('--iters', 2000));
const WARMUP = Math.max(50, ITERS / 10);
const OUT = arg('--out', path.join(here, '../../target/bench-auth/out'));

const b64u = (buf) => Buffer.from(buf).toString('base64url');
const unb64u = (s) => new Uint8Array(Buffer.from(s, 'base64url'));

// A typical access token's signing input (header.payload), about 300 bytes, so hashing cost is realistic.
function signingInput(alg) {
  const header = { alg, typ: 'JWT', kid: 'k-2026-12-a1b2c3' };
  const now = 1_796_000_000;
  const payload = {
    iss: 'https://auth.example.com/', sub: 'user_01HZX3K9Q4W8E2R7T6Y5U1I0OP', aud: 'cart-api',
    iat: now, nbf: now, exp: now + 900, jti: '6f1c2d3e-4b5a-4978-8a6b-5c4d3e2f1a0b', scope: 'cart:read cart:write',
  };
  return new TextEncoder().encode(`${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`);
}

const RSA = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
const EC = { name: 'ECDSA', namedCurve: 'P-256' };
const ECDSA_SIGN = { name: 'ECDSA', hash: 'SHA-256' };

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/**
 * Times `fn` (sync or async) `iters` times after a warm-up, one call per sample. Returns the median wall µs per call
 * and the mean CPU µs per call from process.cpuUsage(), which counts every thread: Node runs subtle.verify on its
 * thread pool, so CPU there includes the hand-off, not just the crypto.
 */
async function timeCalls(fn, iters = ITERS) {
  for (let i = 0; i < WARMUP; i++) await fn();
  const samples = new Float64Array(iters);
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < iters; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    samples[i] = Number(process.hrtime.bigint() - t0) / 1e3;
  }
  const cpu = process.cpuUsage(cpu0);
  return { wall: median(samples), cpu: (cpu.user + cpu.system) / iters };
}

/**
 * Times a wasm "do it n times" export: batches of `batch` calls inside wasm, so JS call overhead is amortised.
 * `fn(n)` must return the number of successes; anything short of n is a broken input and aborts the run.
 */
function timeWasm(fn, iters = ITERS, batch = 50) {
  const check = (n) => {
    const ok = fn(n);
    if (ok !== n) throw new Error(`wasm verified ${ok} of ${n}`);
  };
  check(WARMUP);
  const batches = Math.max(1, Math.round(iters / batch));
  const samples = new Float64Array(batches);
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < batches; i++) {
    const t0 = process.hrtime.bigint();
    check(batch);
    samples[i] = Number(process.hrtime.bigint() - t0) / 1e3 / batch;
  }
  const cpu = process.cpuUsage(cpu0);
  return { wall: median(samples), cpu: (cpu.user + cpu.system) / (batches * batch) };
}

/** Drops custom sections (name, producers, target_features), so the un-optimised size counts only what ships. */
function stripCustom(bytes) {
  const out = [bytes.subarray(0, 8)];
  let p = 8;
  const leb = () => {
    let v = 0, shift = 0, b;
    do { b = bytes[p++]; v |= (b & 0x7f) << shift; shift += 7; } while (b & 0x80);
    return v >>> 0;
  };
  while (p < bytes.length) {
    const start = p;
    const id = bytes[p++];
    const len = leb();
    p += len;
    if (id !== 0) out.push(bytes.subarray(start, p));
  }
  return Buffer.concat(out);
}

function sizes(file, strip) {
  if (!existsSync(file)) return null;
  let b = readFileSync(file);
  if (strip) b = stripCustom(b);
  return { raw: b.length, gz: gzipSync(b, { level: 9 }).length };
}

// Copies bytes into the module's memory through its own allocator; returns [ptr, len].
function put(wasm, bytes) {
  const ptr = wasm.alloc(bytes.length);
  new Uint8Array(wasm.memory.buffer, ptr, bytes.length).set(bytes);
  return [ptr, bytes.length];
}

async function main() {
  // Keys and signatures from Node's Web Crypto, exported as JWK: the form a worker gets from a JWKS endpoint.
  const rsaPair = await subtle.generateKey({ ...RSA, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) }, true, ['sign', 'verify']);
  const ecPair = await subtle.generateKey(EC, true, ['sign', 'verify']);
  const rsaJwk = await subtle.exportKey('jwk', rsaPair.publicKey);
  const ecJwk = await subtle.exportKey('jwk', ecPair.publicKey);
  const rsaMsg = signingInput('RS256');
  const ecMsg = signingInput('ES256');
  const rsaSig = new Uint8Array(await subtle.sign(RSA, rsaPair.privateKey, rsaMsg));
  // Web Crypto's ECDSA output is already r||s (IEEE P1363), exactly the JWS ES256 encoding.
  const ecSig = new Uint8Array(await subtle.sign(ECDSA_SIGN, ecPair.privateKey, ecMsg));
  const rsaKey = await subtle.importKey('jwk', rsaJwk, RSA, false, ['verify']);
  const ecKey = await subtle.importKey('jwk', ecJwk, EC, false, ['verify']);

  const rows = [];
  const wc = async (f) => {
    const r = await f();
    if (r !== true) throw new Error('Web Crypto verify failed');
  };
  rows.push(['Web Crypto `importKey(jwk)` (once per key)',
    await timeCalls(() => subtle.importKey('jwk', rsaJwk, RSA, false, ['verify'])),
    await timeCalls(() => subtle.importKey('jwk', ecJwk, EC, false, ['verify'])), '—']);
  rows.push(['Web Crypto `verify`',
    await timeCalls(() => wc(() => subtle.verify(RSA, rsaKey, rsaSig, rsaMsg))),
    await timeCalls(() => wc(() => subtle.verify(ECDSA_SIGN, ecKey, ecSig, ecMsg))), '~0 (JS imports only)']);
  // Same OpenSSL, called synchronously: what the crypto itself costs without Node's promise and thread-pool hop.
  // workerd answers subtle.verify on the calling thread, so it sits nearer this row than the one above.
  const rsaKo = createPublicKey({ key: rsaJwk, format: 'jwk' });
  const ecKo = createPublicKey({ key: ecJwk, format: 'jwk' });
  rows.push(['reference: `node:crypto.verify` (sync OpenSSL)',
    await timeCalls(() => { if (!nodeVerify('sha256', rsaMsg, rsaKo, rsaSig)) throw new Error('bad'); }),
    await timeCalls(() => { if (!nodeVerify('sha256', ecMsg, { key: ecKo, dsaEncoding: 'ieee-p1363' }, ecSig)) throw new Error('bad'); }), '—']);

  const files = ['empty', 'verify'].flatMap((v) => [[v, false], [v, true]]);
  const size = Object.fromEntries(files.map(([v, opt]) =>
    [`${v}${opt ? '.opt' : ''}`, sizes(path.join(OUT, `${v}${opt ? '.opt' : ''}.wasm`), !opt)]));
  if (!size.verify || !size.empty) throw new Error(`no wasm in ${OUT}: run bench/auth/run.sh`);
  const haveOpt = size['verify.opt'] && size['empty.opt'];
  const added = (k) => ({ raw: size[`verify${k}`].raw - size[`empty${k}`].raw, gz: size[`verify${k}`].gz - size[`empty${k}`].gz });
  const addedShip = added(haveOpt ? '.opt' : '');

  // The .opt build is what the worker would ship, so time that one when it exists.
  const wasmFile = path.join(OUT, haveOpt ? 'verify.opt.wasm' : 'verify.wasm');
  const { instance } = await WebAssembly.instantiate(readFileSync(wasmFile), {});
  const w = instance.exports;
  const n = put(w, unb64u(rsaJwk.n)), e = put(w, unb64u(rsaJwk.e));
  const rm = put(w, rsaMsg), rs = put(w, rsaSig);
  const pt = put(w, new Uint8Array([4, ...unb64u(ecJwk.x), ...unb64u(ecJwk.y)]));
  const em = put(w, ecMsg), es = put(w, ecSig);
  // A flipped byte must fail on both curves, or the timings below could be of a verifier that accepts anything.
  const bad = (sig) => { const b = sig.slice(); b[10] ^= 1; return put(w, b); };
  if (w.rs256_verify_n(...n, ...e, ...rm, ...bad(rsaSig), 1) !== 0 || w.es256_verify_n(...pt, ...em, ...bad(ecSig), 1) !== 0) {
    throw new Error('wasm accepted a tampered signature');
  }
  // Web Crypto's ECDSA signatures are not low-S normalised; check several, so a verifier that rejected high S
  // (it must not, for ES256) would show here instead of as a flaky run.
  for (let i = 0; i < 16; i++) {
    const s = put(w, new Uint8Array(await subtle.sign(ECDSA_SIGN, ecPair.privateKey, ecMsg)));
    if (w.es256_verify_n(...pt, ...em, ...s, 1) !== 1) throw new Error('wasm rejected a Web Crypto ES256 signature');
  }
  rows.push(['Rust crates in wasm: key parse (once per key)',
    timeWasm((k) => w.rs256_parse_n(...n, ...e, k), ITERS / 4), timeWasm((k) => w.es256_parse_n(...pt, k), ITERS / 4), '—']);
  rows.push(['Rust crates in wasm: verify',
    timeWasm((k) => w.rs256_verify_n(...n, ...e, ...rm, ...rs, k)),
    timeWasm((k) => w.es256_verify_n(...pt, ...em, ...es, k)),
    `${addedShip.raw} raw, ${addedShip.gz} gzip -9${haveOpt ? '' : ' (no wasm-opt)'}`]);

  const f = (x) => x.toFixed(1);
  const [load1] = loadavg();
  console.log(`\nNode ${process.version}, ${ITERS} verifications per cell after ${WARMUP} warm-up, load average ${load1.toFixed(2)} at the end.`);
  console.log('µs = median wall time per call; CPU = mean process CPU per call, all threads.\n');
  console.log('| path | RS256 µs/verify | ES256 µs/verify | RS256 CPU µs | ES256 CPU µs | wasm bytes added |');
  console.log('|---|---:|---:|---:|---:|---|');
  for (const [name, r, es, bytes] of rows) {
    console.log(`| ${name} | ${f(r.wall)} | ${f(es.wall)} | ${f(r.cpu)} | ${f(es.cpu)} | ${bytes} |`);
  }
  const [, vWc, vSync, , vWasm] = rows; // the three verify rows
  console.log(`\nCrate verify / Web Crypto verify (median wall): RS256 ${f(vWasm[1].wall / vWc[1].wall)}x, ES256 ${f(vWasm[2].wall / vWc[2].wall)}x;` +
    ` against sync OpenSSL: RS256 ${f(vWasm[1].wall / vSync[1].wall)}x, ES256 ${f(vWasm[2].wall / vSync[2].wall)}x.`);

  console.log(`\nSizes (${OUT}; un-optimised rows have custom sections dropped):\n`);
  console.log('| module | raw bytes | gzip -9 bytes |');
  console.log('|---|---:|---:|');
  for (const [k, s] of Object.entries(size)) {
    if (s) console.log(`| ${k}.wasm | ${s.raw} | ${s.gz} |`);
  }
  for (const k of haveOpt ? ['', '.opt'] : ['']) {
    const a = added(k);
    console.log(`| added by verification${k ? ', after wasm-opt' : ', no wasm-opt'} | ${a.raw} | ${a.gz} |`);
  }
  if (!haveOpt) console.log('\nwasm-opt was not available (run `make setup`), so there are no wasm-opt rows.');
}

await main();
