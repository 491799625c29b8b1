#!/usr/bin/env bash
# One command for the JWT verification benchmark: builds bench/auth/rust to wasm twice (empty and verify), runs the
# worker's wasm-opt passes on both when binaryen is installed, then runs bench.mjs, which prints the tables.
# Usage: bash bench/auth/run.sh [bench.mjs args, e.g. --iters 4000]   NODE=/path/to/node picks another Node.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# Own target dir, so this neither evicts nor waits on the workspace's build artifacts.
export CARGO_TARGET_DIR="$root/target/bench-auth"
out="$CARGO_TARGET_DIR/out"
mkdir -p "$out"
wasm_opt="$root/node_modules/binaryen/bin/wasm-opt"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

# The machine has 2 cores and may be building something else: stay in the background.
cd "$here/rust"
for variant in empty verify; do
  features=()
  [ "$variant" = verify ] && features=(--features verify)
  nice -n 10 cargo build --release --target wasm32-unknown-unknown -j 1 --locked "${features[@]}" 2>&1 | grep -v '^ *Compiling' || true
  # Both variants write the same file name, so copy each before the next build overwrites it.
  cp "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/auth_verify_bench.wasm" "$out/$variant.wasm"
  rm -f "$out/$variant.opt.wasm"
  if [ -x "$wasm_opt" ]; then
    # The worker's passes: worker-build's default `wasm-opt -O` with its feature list, then strip_wasm in
    # scripts/versions.sh (--strip-debug --strip-producers).
    enables=(--enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int --enable-bulk-memory
      --enable-multivalue --enable-reference-types)
    nice -n 10 "$wasm_opt" -O "${enables[@]}" --enable-exception-handling --debuginfo "$out/$variant.wasm" -o "$out/$variant.opt.wasm"
    nice -n 10 "$wasm_opt" "${enables[@]}" --strip-debug --strip-producers "$out/$variant.opt.wasm" -o "$out/$variant.opt.wasm"
  fi
done
[ -x "$wasm_opt" ] || echo "note: $wasm_opt not found (make setup installs it); reporting sizes without wasm-opt" >&2

cd "$root"
"${NODE:-node}" bench/auth/bench.mjs --out "$out" "$@"
