#!/usr/bin/env bash
# `make bench-client`: the browser library's size, and the login merge timed in wasm (Node 22, headless Chromium)
# beside @automerge/automerge and yjs doing the same merge in the same run. Prints markdown tables.
set -euo pipefail
source "$(dirname "$0")/versions.sh"
cd "$ROOT"
export PATH="$(dirname "$NODE22"):$PATH"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER="$TOOLS/wasm-bindgen-$WASM_BINDGEN_VERSION/bin/wasm-bindgen-test-runner"
bash scripts/build-client.sh
# The floor: automerge 0.12 alone, doing what the library needs it for, built the same way (bench/floor).
SHIP_TARGET_DIR="$ROOT/target/ship-client"
SHIP_EXTRA_RUSTFLAGS=-Zfmt-debug=none ship_build cargo build -q -p automerge-floor --release --target wasm32-unknown-unknown
floor=$(mktemp -d)
"$WASM_BINDGEN_BIN" --target web --remove-name-section --remove-producers-section --out-dir "$floor" --out-name floor \
  "$SHIP_TARGET_DIR/wasm32-unknown-unknown/release/automerge_floor.wasm"
echo
echo "| automerge 0.12 alone (bench/floor), same profile and flags | raw bytes | gzip -9 bytes |"
echo "|---|---|---|"
echo "| floor_bg.wasm | $(stat -c %s "$floor/floor_bg.wasm") | $(gzip -9 -c "$floor/floor_bg.wasm" | wc -c) |"
rm -rf "$floor"
echo
median() { grep -o 'BENCH login_merge_us=[0-9.]*' | tail -1 | cut -d= -f2; }
# Release profile (opt-level z, LTO): what ships.
WASM_NODE_US=$(cargo test --release -p cart-client --target wasm32-unknown-unknown --test bench_node -- --nocapture 2>&1 | median)
WASM_CHROMIUM_US=$(CHROMEDRIVER=/usr/bin/chromedriver cargo test --release -p cart-client --target wasm32-unknown-unknown \
  --test bench_browser -- --nocapture 2>&1 | median)
export WASM_NODE_US WASM_CHROMIUM_US
node bench/merge-peers.mjs
