#!/usr/bin/env bash
# Builds the worker crate into worker/build/ with worker-build, using the pinned wasm-bindgen and wasm-opt
# (worker-build would otherwise try to download them, which this network refuses).
set -euo pipefail
source "$(dirname "$0")/versions.sh"
for tool in "$WORKER_BUILD_BIN" "$WASM_BINDGEN_BIN" "$WASM_OPT_BIN"; do
  [ -x "$tool" ] || { echo "missing $tool: run scripts/setup.sh (make dev / make test do)" >&2; exit 1; }
done
cd "$ROOT/worker"
"$WORKER_BUILD_BIN" --release
