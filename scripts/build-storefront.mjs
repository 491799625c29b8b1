// Builds the demo storefront (storefront/) into www/, what the worker serves as static assets: its script bundled
// and minified with esbuild (the browser library's first-paint layer, @edge-cart/client/boot, included; the
// library itself a chunk loaded after first paint), the stylesheet and the wasm, all under content-hashed names in
// www/assets/, served `immutable` (www/_headers); and www/index.html, revalidated on every visit, naming them, with
// preload hints for the script and the catalog. A repeat visit so asks for the HTML alone. Run by scripts/build.sh
// after the package (client-wasm/pkg/) is built; prints the storefront's files and their gzip sizes.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { basename, join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const www = join(root, 'www');
const assets = join(www, 'assets');
const pkg = join(root, 'client-wasm/pkg');

rmSync(assets, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });

const hash = (bytes) => createHash('sha256').update(bytes).digest('hex').slice(0, 12);
const wasmBytes = readFileSync(join(pkg, 'cart_client_bg.wasm'));
const wasm = `cart_client_bg.${hash(wasmBytes)}.wasm`;
copyFileSync(join(pkg, 'cart_client_bg.wasm'), join(assets, wasm));

const result = await build({
  entryPoints: [join(root, 'storefront/app.js'), join(root, 'storefront/style.css')],
  bundle: true,
  splitting: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  outdir: assets,
  entryNames: '[name].[hash]',
  chunkNames: '[name].[hash]',
  alias: { '@edge-cart/client': pkg },
  // The wasm's hashed name, relative to the bundle (the library compiles it streaming from there).
  define: { __CART_WASM__: JSON.stringify(wasm) },
  metafile: true,
  logLevel: 'warning',
});

const outputs = Object.entries(result.metafile.outputs).map(([path, meta]) => ({ name: basename(path), ...meta }));
const entry = (source) => outputs.find((o) => o.entryPoint?.endsWith(source)).name;
const app = entry('storefront/app.js');
const css = entry('storefront/style.css');
// The modules app.js needs before it runs (static imports): preloaded with it, so they come in one round trip.
const staticImports = outputs.find((o) => o.name === app).imports.filter((i) => i.kind === 'import-statement').map((i) => basename(i.path));

const template = readFileSync(join(root, 'storefront/index.html'), 'utf8');
const head = [
  `<link rel="stylesheet" href="/assets/${css}">`,
  `<link rel="preload" href="/v1/catalog" as="fetch" crossorigin="anonymous">`,
  ...staticImports.map((m) => `<link rel="modulepreload" href="/assets/${m}">`),
  `<script type="module" src="/assets/${app}"></script>`,
].join('\n  ');
const marker = '<!-- assets: written by scripts/build-storefront.mjs -->';
if (!template.includes(marker)) throw new Error(`storefront/index.html lacks ${marker}`);
writeFileSync(join(www, 'index.html'), template.replace(marker, head));

// Hashed names never change content: cached for a year without revalidation. Everything else (the HTML) is
// revalidated on every visit (Workers' default, written out).
writeFileSync(join(www, '_headers'), `# Written by scripts/build-storefront.mjs.
/assets/*
  Cache-Control: public, max-age=31536000, immutable
/
  Cache-Control: public, max-age=0, must-revalidate
/index.html
  Cache-Control: public, max-age=0, must-revalidate
`);

console.log('| storefront file | raw bytes | gzip -9 bytes |');
console.log('|---|---|---|');
for (const name of ['index.html', ...readdirSync(assets).sort().map((n) => `assets/${n}`)]) {
  const bytes = readFileSync(join(www, name));
  console.log(`| ${name} | ${statSync(join(www, name)).size} | ${gzipSync(bytes, { level: 9 }).length} |`);
}
