#!/usr/bin/env bash
# Builds the worker crate into worker/build/ with worker-build, using the pinned wasm-bindgen and wasm-opt
# (worker-build would otherwise try to download them, which this network refuses). Skips the build when
# worker/build is newer than every source it depends on, so restarting `wrangler dev` is quick.
set -euo pipefail
source "$(dirname "$0")/versions.sh"
cd "$ROOT"
out=worker/build/index.js
if [ -f "$out" ] && [ -z "$(find core/src worker/src Cargo.toml Cargo.lock core/Cargo.toml worker/Cargo.toml -newer "$out" -print -quit)" ]; then
  echo "worker build is up to date"
  exit 0
fi
for tool in "$WORKER_BUILD_BIN" "$WASM_BINDGEN_BIN" "$WASM_OPT_BIN"; do
  [ -x "$tool" ] || { echo "missing $tool: run scripts/setup.sh (make dev / make test do)" >&2; exit 1; }
done
cd worker
# Size-optimised (see ship_build in versions.sh).
ship_build "$WORKER_BUILD_BIN" --release
# worker-build keeps the wasm name section (function names for stack traces, ~100 KB gzip); strip it.
strip_wasm build/index_bg.wasm
