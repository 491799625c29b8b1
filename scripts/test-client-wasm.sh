#!/usr/bin/env bash
# The browser library's wasm tests (wasm-bindgen-test): the storage logic under Node 22's Web Storage, then the same
# tests plus the browser-only ones (quota, other tabs) in Debian's headless Chromium. Run by `make test`.
set -euo pipefail
source "$(dirname "$0")/versions.sh"
cd "$ROOT"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER="$TOOLS/wasm-bindgen-$WASM_BINDGEN_VERSION/bin/wasm-bindgen-test-runner"
export WASM_BINDGEN_TEST_TIMEOUT=120

echo "-- in Node 22 (real Web Storage in a throwaway file)"
storage_file=$(mktemp -u /tmp/cart-wasm-test-XXXXXX)
PATH="$(dirname "$NODE22"):$PATH" NODE_ARGS="--experimental-webstorage,--localstorage-file=$storage_file" \
  cargo test -p cart-client --target wasm32-unknown-unknown --test in_node
rm -f "$storage_file"*

echo "-- in headless Chromium (real LocalStorage)"
CHROMEDRIVER=/usr/bin/chromedriver cargo test -p cart-client --target wasm32-unknown-unknown --test in_browser
