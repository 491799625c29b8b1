// Checks a catalog file and writes it as the bulk-upload file `wrangler kv bulk put` takes: one `product:<sku>`
// key per product, its JSON as value and as metadata (so listing the catalog needs no extra reads).
// Usage: node scripts/seed-catalog.mjs CATALOG.json OUT.json. The format is documented in README ("Catalog").
import { readFileSync, writeFileSync } from 'node:fs';

const [input, output] = process.argv.slice(2);
const fail = (why) => { console.error(`seed-catalog: ${input}: ${why}`); process.exit(1); };

let catalog;
try {
  catalog = JSON.parse(readFileSync(input, 'utf8'));
} catch (e) {
  fail(`not readable JSON (${e.message})`);
}
const currency = catalog?.currency;
if (typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency)) fail('"currency" must be an ISO 4217 code like "EUR"');
if (!Array.isArray(catalog.products)) fail('"products" must be an array');

const seen = new Set();
const entries = catalog.products.map((p, i) => {
  const where = `products[${i}]`;
  if (typeof p?.sku !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(p.sku)) fail(`${where}.sku must be 1-64 of A-Z a-z 0-9 . _ -`);
  if (seen.has(p.sku)) fail(`${where}: sku ${p.sku} appears twice`);
  seen.add(p.sku);
  if (typeof p.name !== 'string' || !p.name.trim()) fail(`${where}.name must be a non-empty string`);
  if (!Number.isSafeInteger(p.price) || p.price < 0) fail(`${where}.price must be a whole number of minor units (cents)`);
  if (p.stock !== undefined && (!Number.isInteger(p.stock) || p.stock < 0 || p.stock > 4294967295)) fail(`${where}.stock must be a whole number >= 0`);
  if (p.maxPerLine !== undefined && (!Number.isInteger(p.maxPerLine) || p.maxPerLine < 1 || p.maxPerLine > 999)) fail(`${where}.maxPerLine must be 1-999`);
  const product = { sku: p.sku, name: p.name, price: p.price, currency };
  for (const key of ['stock', 'maxPerLine', 'colour', 'image']) if (p[key] !== undefined) product[key] = p[key];
  const value = JSON.stringify(product);
  if (Buffer.byteLength(value) > 1024) fail(`${where} is over 1024 bytes as JSON (KV's metadata limit)`);
  return { key: `product:${p.sku}`, value, metadata: product };
});
writeFileSync(output, JSON.stringify(entries));
console.log(`seed-catalog: ${entries.length} products in ${currency}`);
