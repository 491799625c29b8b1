#!/usr/bin/env bash
# Installs every tool the build and the tests need, pinned, cached under .tools/ and node_modules/.
# Safe to run again: each step checks what is already there, so a second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/versions.sh

log() { printf '[setup] %s\n' "$*"; }

# The stable toolchain pinned in rust-toolchain.toml (tests, tools), and the nightly the shipped wasm is built with
# (SHIP_TOOLCHAIN in versions.sh), each with what the builds need.
if ! rustup run "$(stable_toolchain)" rustc --version >/dev/null 2>&1; then
  log "installing rust $(stable_toolchain) (rust-toolchain.toml)"
  rustup toolchain install "$(stable_toolchain)" --profile minimal
fi
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi
if ! rustup run "$SHIP_TOOLCHAIN" rustc --version >/dev/null 2>&1 ||
   [ ! -d "$(rustup run "$SHIP_TOOLCHAIN" rustc --print sysroot)/lib/rustlib/src/rust/library/std" ] ||
   ! rustup target list --installed --toolchain "$SHIP_TOOLCHAIN" | grep -qx wasm32-unknown-unknown; then
  log "installing rust $SHIP_TOOLCHAIN with rust-src and wasm32-unknown-unknown (for the shipped wasm)"
  rustup toolchain install "$SHIP_TOOLCHAIN" --profile minimal --component rust-src --target wasm32-unknown-unknown
fi

# The wasm-bindgen CLI must match the wasm-bindgen crate pinned in Cargo.toml exactly.
# worker-build would download it from GitHub, which this network does not reach, so we build it once.
# No --locked: the registry lacks one dependency pinned by the CLI's own lockfile (see shared/TOOLCHAIN.md).
if [ ! -x "$WASM_BINDGEN_BIN" ]; then
  log "building wasm-bindgen-cli $WASM_BINDGEN_VERSION (one-off, ~5 min)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --root "$TOOLS/wasm-bindgen-$WASM_BINDGEN_VERSION"
fi

if [ ! -x "$WORKER_BUILD_BIN" ]; then
  log "building worker-build $WORKER_BUILD_VERSION (one-off, ~4 min)"
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --root "$TOOLS/worker-build-$WORKER_BUILD_VERSION"
fi

# Node 22 (for wrangler 4.1xx), wrangler and binaryen come from the npm registry, pinned by package-lock.json.
if [ ! -x "$NODE22" ] || [ ! -x node_modules/.bin/wrangler ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm tooling (node 22, wrangler, binaryen)"
  # `npm ci` rejects this lock (npm 11 drops the other platforms' optional workerd builds from it), so install from it.
  npm install --no-audit --no-fund --loglevel=error
fi

# The contract test's Schemathesis, for `make test` (NEED_TEST_TOOLS=1), from PyPI into its own virtualenv.
if [ "${NEED_TEST_TOOLS:-0}" = 1 ] && [ ! -x "$SCHEMATHESIS_BIN" ]; then
  log "installing schemathesis $SCHEMATHESIS_VERSION (pip, into .tools/)"
  python3 -m venv "$TOOLS/schemathesis-$SCHEMATHESIS_VERSION"
  "$TOOLS/schemathesis-$SCHEMATHESIS_VERSION/bin/pip" install --quiet --disable-pip-version-check \
    "schemathesis==$SCHEMATHESIS_VERSION"
fi

if [ "${NEED_TEST_TOOLS:-0}" = 1 ] && { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; }; then
  log "installing Debian's chromium and chromium-driver"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver
fi
log "tools ready"
