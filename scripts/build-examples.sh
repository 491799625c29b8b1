#!/usr/bin/env bash
# The React and Vue examples (examples/), bundled with esbuild from npm packages into www/examples/<framework>/, where
# `make dev` serves them (/examples/react/, /examples/vue/). They import the package as a shop would
# (`@edge-cart/client`, `@edge-cart/client/react`), resolved to the package `make client` built in client-wasm/pkg/.
# Their sign-in uses the dev build's token route.
set -euo pipefail
cd "$(dirname "$0")/.."
# Dev builds only (CART_FEATURES holds `dev`: `make dev`, the tests, the benchmarks): what `wrangler deploy` ships
# is the storefront alone, so a production build removes what a dev build left in www/.
if [[ " ${CART_FEATURES//,/ } " != *" dev "* ]]; then
  rm -rf www/examples www/bench www/pkg
  exit 0
fi
# The package's library as plain modules at /pkg/, for tests and benchmarks that drive it in a page of their own.
mkdir -p www/pkg
cp client-wasm/pkg/cart_client.js client-wasm/pkg/cart_client_bg.wasm www/pkg/
# `make bench-first-load`'s floor page, served by the same worker.
mkdir -p www/bench
cp examples/bench/floor.html www/bench/floor.html
esbuild=node_modules/.bin/esbuild
for framework in react vue; do
  out="www/examples/$framework"
  entry=$(ls "examples/$framework"/app.* | head -1)
  if [ -f "$out/app.js" ] && [ -f "$out/cart_client_bg.wasm" ] && [ "$out/app.js" -nt "$entry" ] \
    && [ "$out/app.js" -nt "examples/$framework/index.html" ] && [ "$out/app.js" -nt client-wasm/pkg/package.json ] \
    && [ "$out/app.js" -nt node_modules/.package-lock.json ] && [ "$out/app.js" -nt "$0" ]; then
    continue
  fi
  mkdir -p "$out"
  "$esbuild" "$entry" --bundle --format=esm --target=es2022 --minify --jsx=automatic --log-level=warning \
    --alias:@edge-cart/client=./client-wasm/pkg --define:process.env.NODE_ENV='"production"' \
    --define:__VUE_OPTIONS_API__=false --define:__VUE_PROD_DEVTOOLS__=false \
    --define:__VUE_PROD_HYDRATION_MISMATCH_DETAILS__=false --outfile="$out/app.js"
  cp "examples/$framework/index.html" "$out/"
  # The bundle loads the wasm next to itself (`new URL('cart_client_bg.wasm', import.meta.url)`).
  cp client-wasm/pkg/cart_client_bg.wasm "$out/"
done
