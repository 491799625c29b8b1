#!/usr/bin/env bash
# Architecture invariant: the core crate knows nothing of JS or Workers, on any target, and builds for wasm32.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for target in x86_64-unknown-linux-gnu wasm32-unknown-unknown; do
  tree=$(cargo tree -q -p cart-core -e normal,build --target "$target" --prefix none)
  for banned in wasm-bindgen js-sys web-sys worker; do
    if grep -qE "^$banned v" <<<"$tree"; then
      echo "check-core: cart-core depends on $banned for $target:" >&2
      cargo tree -q -p cart-core -e normal,build --target "$target" -i "$banned" >&2 || true
      status=1
    fi
  done
done
# The core does not choose a randomness source for wasm32 (hosts do: worker and client-wasm enable getrandom's
# wasm_js backend), so this check builds it with getrandom's "unsupported" backend, in its own target dir.
RUSTFLAGS='--cfg getrandom_backend="unsupported"' \
  cargo check -q -p cart-core --target wasm32-unknown-unknown --target-dir target/check-core-wasm32
if [ "$status" = 0 ]; then
  echo "check-core: cart-core has no JS/Workers dependency on any target and builds for wasm32-unknown-unknown"
fi
exit "$status"
