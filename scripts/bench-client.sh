#!/usr/bin/env bash
# `make bench-client`: the browser library's size, and the login merge timed in wasm (Node 22, headless Chromium)
# beside @automerge/automerge and yjs doing the same merge in the same run. Prints markdown tables.
set -euo pipefail
source "$(dirname "$0")/versions.sh"
cd "$ROOT"
export PATH="$(dirname "$NODE22"):$PATH"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER="$TOOLS/wasm-bindgen-$WASM_BINDGEN_VERSION/bin/wasm-bindgen-test-runner"
bash scripts/build-client.sh
median() { grep -o 'BENCH login_merge_us=[0-9.]*' | tail -1 | cut -d= -f2; }
# Release profile (opt-level z, LTO): what ships.
WASM_NODE_US=$(cargo test --release -p cart-client --target wasm32-unknown-unknown --test bench_node -- --nocapture 2>&1 | median)
WASM_CHROMIUM_US=$(CHROMEDRIVER=/usr/bin/chromedriver cargo test --release -p cart-client --target wasm32-unknown-unknown \
  --test bench_browser -- --nocapture 2>&1 | median)
export WASM_NODE_US WASM_CHROMIUM_US
node bench/merge-peers.mjs
