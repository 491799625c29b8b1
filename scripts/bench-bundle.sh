#!/usr/bin/env bash
# `make bench-bundle`: the deploy bundle's size (scripts/bundle-size.sh), then the floor under it: bench/worker-floor
# (automerge 0.12 with a SQLite Durable Object, a hibernating WebSocket and JSON, nothing else) built exactly as the
# worker is (worker-build, ship_build, wasm-opt stripping). Prints markdown tables.
set -euo pipefail
source "$(dirname "$0")/versions.sh"
cd "$ROOT"
bash scripts/bundle-size.sh
cd bench/worker-floor
rm -rf build
ship_build "$WORKER_BUILD_BIN" --release >/dev/null
strip_wasm build/index_bg.wasm
echo
echo "| floor (bench/worker-floor), built the same way | raw bytes | gzip -9 bytes |"
echo "|---|---|---|"
for f in build/index_bg.wasm build/index.js; do
  echo "| ${f#build/} | $(stat -c %s "$f") | $(gzip -9 -c "$f" | wc -c) |"
done
rm -rf build
