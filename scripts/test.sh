#!/usr/bin/env bash
# Every test of every crate, then the integration tests against the real workerd. Run by `make test` and CI.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/versions.sh

echo "== core purity and wasm32 build"
bash scripts/check-core.sh

echo "== Rust tests (all crates: unit, integration, property and doc tests)"
cargo test --workspace

echo "== browser library in Node 22 and headless Chromium (wasm-bindgen-test)"
bash scripts/test-client-wasm.sh

echo "== deploy build (wrangler deploy --dry-run) and its size"
bash scripts/bundle-size.sh

echo "== integration tests of the shipped build (the deploy artifact under wrangler dev, production settings)"
bash scripts/test-shipped.sh

echo "== browser library package (make client) and its size"
bash scripts/build-client.sh

echo "== integration tests against wrangler dev (real workerd)"
# A real localStorage for the client library's tests (Node 22's Web Storage), in a throwaway file.
storage_file=$(mktemp -u /tmp/cart-localstorage-XXXXXX)
bash scripts/with-dev-server.sh "$NODE22" --experimental-webstorage --localstorage-file="$storage_file" \
  --test --test-concurrency=1 --test-force-exit --test-timeout=600000 'tests/**/*.test.mjs'
rm -f "$storage_file"

echo "== the contract: openapi.yaml against wrangler dev (Schemathesis, $SCHEMATHESIS_VERSION)"
bash scripts/with-dev-server.sh bash scripts/schemathesis.sh
