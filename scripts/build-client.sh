#!/usr/bin/env bash
# Builds the npm-ready browser package into client-wasm/pkg/: an ES module, its wasm, TypeScript types and
# package.json, with the first-paint layer (boot.js) and the framework bindings. `make client` runs it, and so does
# the worker's build (scripts/build-storefront.mjs then bundles the storefront from it). Prints the shipped size, raw
# and gzip.
set -euo pipefail
source "$(dirname "$0")/versions.sh"
cd "$ROOT"
out=client-wasm/pkg
# Size-optimised (see ship_build in versions.sh), in its own target dir: its flags differ from the worker's.
SHIP_TARGET_DIR="$ROOT/target/ship-client"
SHIP_EXTRA_RUSTFLAGS=-Zfmt-debug=none ship_build cargo build -q -p cart-client --release --target wasm32-unknown-unknown
built="$SHIP_TARGET_DIR/wasm32-unknown-unknown/release/cart_client.wasm"
sizes() {
  echo "| file | raw bytes | gzip -9 bytes |"
  echo "|---|---|---|"
  for f in cart_client_bg.wasm cart_client.js boot.js store.js react.js vue.js; do
    echo "| $f | $(stat -c %s "$out/$f") | $(gzip -9 -c "$out/$f" | wc -c) |"
  done
}
newest_binding=$(ls -t client-wasm/bindings/* | head -1)
if [ "$out/cart_client_bg.wasm" -nt "$built" ] && [ "$out/package.json" -nt "$0" ] && [ "$out/package.json" -nt "$newest_binding" ]; then
  echo "client-wasm/pkg is up to date"
  sizes
  exit 0
fi
rm -rf "$out"
"$WASM_BINDGEN_BIN" --target web --remove-name-section --remove-producers-section --out-dir "$out" --out-name cart_client \
  "$built"
# No wasm-opt pass: measured here, -Oz made the wasm 10% smaller raw but 10% larger gzipped (BENCHMARKS.md),
# and storefronts serve it gzipped.
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
cat > "$out/package.json" <<JSON
{
  "name": "@edge-cart/client",
  "version": "$version",
  "description": "Offline-first shopping cart for the browser: LocalStorage, live Automerge sync with the edge-cart worker, CRDT login merge.",
  "type": "module",
  "main": "cart_client.js",
  "module": "cart_client.js",
  "types": "cart_client.d.ts",
  "exports": {
    ".": { "types": "./cart_client.d.ts", "default": "./cart_client.js" },
    "./react": { "types": "./react.d.ts", "default": "./react.js" },
    "./vue": { "types": "./vue.d.ts", "default": "./vue.js" },
    "./boot": { "types": "./boot.d.ts", "default": "./boot.js" },
    "./store": { "types": "./store.d.ts", "default": "./store.js" },
    "./cart_client_bg.wasm": "./cart_client_bg.wasm"
  },
  "files": ["cart_client.js", "cart_client.d.ts", "cart_client_bg.wasm", "cart_client_bg.wasm.d.ts",
    "boot.js", "boot.d.ts", "store.js", "store.d.ts", "react.js", "react.d.ts", "vue.js", "vue.d.ts"],
  "peerDependencies": { "react": ">=18", "vue": ">=3.3" },
  "peerDependenciesMeta": { "react": { "optional": true }, "vue": { "optional": true } },
  "sideEffects": false,
  "license": "MIT OR Apache-2.0"
}
JSON
rm -f "$out/.gitignore"
# The first-paint layer and the framework bindings (plain ES modules and their types), as subpath exports of the
# same package.
cp client-wasm/bindings/*.js client-wasm/bindings/*.d.ts "$out/"
sizes
