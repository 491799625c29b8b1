#!/usr/bin/env bash
# Builds the worker crate into worker/build/ with worker-build, using the pinned wasm-bindgen and wasm-opt
# (worker-build would otherwise try to download them, which this network refuses). Skips the build when
# worker/build is newer than every source it depends on and was built with the same features, so restarting
# `wrangler dev` is quick. CART_FEATURES picks cargo features: `make dev` and the tests build with `dev` (dev
# routes, fault injection; scripts/dev.sh sets it), `wrangler deploy` without.
set -euo pipefail
source "$(dirname "$0")/versions.sh"
cd "$ROOT"
out=worker/build/index.js
features="${CART_FEATURES:-}"
stamp=worker/build/features
if [ -f "$out" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$features" ] && [ -z "$(find core/src worker/src Cargo.toml Cargo.lock core/Cargo.toml worker/Cargo.toml rust-toolchain.toml scripts/versions.sh -newer "$out" -print -quit)" ]; then
  echo "worker build is up to date"
  exit 0
fi
for tool in "$WORKER_BUILD_BIN" "$WASM_BINDGEN_BIN" "$WASM_OPT_BIN"; do
  [ -x "$tool" ] || { echo "missing $tool: run scripts/setup.sh (make dev / make test do)" >&2; exit 1; }
done
cd worker
# Size-optimised (see ship_build in versions.sh).
feature_args=()
[ -n "$features" ] && feature_args=(--features "$features")
ship_build "$WORKER_BUILD_BIN" --release "${feature_args[@]}"
# worker-build keeps the wasm name section (function names for stack traces, ~100 KB gzip); strip it.
strip_wasm build/index_bg.wasm
printf '%s' "$features" > build/features
