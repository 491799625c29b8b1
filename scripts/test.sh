#!/usr/bin/env bash
# Every test of every crate, then the integration tests against the real workerd. Run by `make test` and CI.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/versions.sh

echo "== core purity and wasm32 build"
bash scripts/check-core.sh

echo "== Rust tests (all crates: unit, integration, property and doc tests)"
cargo test --workspace

echo "== deploy build (wrangler deploy --dry-run) and its size"
bash scripts/bundle-size.sh

echo "== integration tests against wrangler dev (real workerd)"
bash scripts/with-dev-server.sh "$NODE22" --test --test-concurrency=1 'tests/**/*.test.mjs'
