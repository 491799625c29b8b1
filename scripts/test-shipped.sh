#!/usr/bin/env bash
# The integration tests of the shipped build: serves the worker exactly as scripts/bundle-size.sh built it for
# `wrangler deploy` (no cargo feature `dev`; its wasm is compared byte for byte with the deploy bundle's) under
# wrangler dev, with wrangler.toml's production variables and limits, and runs tests/shipped/ against it. Run by
# `make test` right after the deploy build.
set -euo pipefail
source "$(dirname "$0")/versions.sh"
cd "$ROOT"
[ -f worker/build/features ] && [ -z "$(cat worker/build/features)" ] || {
  echo "worker/build is not the production build: run scripts/bundle-size.sh first" >&2; exit 1; }
deployed=$(find target/deploy-dry-run -name '*.wasm' | head -1)
cmp -s "$deployed" worker/build/index_bg.wasm || {
  echo "worker/build/index_bg.wasm is not the deploy bundle's wasm ($deployed)" >&2; exit 1; }
shipped=target/shipped
rm -rf "$shipped"
mkdir -p "$shipped"
cp -r worker/build "$shipped/build"
# wrangler.toml as deployed, but serving the copy and building nothing (the dev server of the other tests rebuilds
# worker/build with dev routes).
sed -e '/^\[build\]/,/^command = /d' -e 's|^main = .*|main = "build/index.js"|' -e 's|^directory = "www"|directory = "../../www"|' \
  wrangler.toml > "$shipped/wrangler.toml"
grep -q '^main = "build/index.js"' "$shipped/wrangler.toml" && ! grep -q '^command = ' "$shipped/wrangler.toml" || {
  echo "could not derive $shipped/wrangler.toml from wrangler.toml" >&2; exit 1; }
export CART_ENVIRONMENT=production CART_FEATURES= CART_WORKER_CONFIG="$shipped/wrangler.toml"
echo "-- tests/shipped/ with production variables and limits"
PORT=8798 CART_VARS=' ' bash scripts/with-dev-server.sh "$NODE22" --test --test-concurrency=1 --test-force-exit \
  --test-timeout=300000 'tests/shipped/*.shipped.mjs'
# The suites that need no dev route run on the shipped build too, with the shared test server's lifted limits as
# on the dev build.
SHIPPED_SUITES="${SHIPPED_SUITES:-api health sync concurrency}"
echo "-- the dev-route-free suites ($SHIPPED_SUITES) on the shipped build"
suites=()
for suite in $SHIPPED_SUITES; do suites+=("tests/$suite.test.mjs"); done
PORT=8797 bash scripts/with-dev-server.sh "$NODE22" --test --test-concurrency=1 --test-force-exit \
  --test-timeout=300000 "${suites[@]}"
