#!/usr/bin/env bash
# Builds the deployable bundle exactly as `wrangler deploy` would (--dry-run: no account needed) and prints its
# size, raw and gzip, after checking it carries no dev code. Run by `make test` (so CI proves the deploy build works)
# and `make bundle-size`.
set -euo pipefail
source "$(dirname "$0")/versions.sh"
cd "$ROOT"
export PATH="$(dirname "$NODE22"):$PATH"
out=target/deploy-dry-run
rm -rf "$out"
# The production build: no cargo feature `dev` (scripts/build-worker.sh reads CART_FEATURES).
CART_FEATURES= node_modules/.bin/wrangler deploy --dry-run --outdir "$out" >"$out.log" 2>&1 || { cat "$out.log" >&2; exit 1; }
# Strings only the dev code holds (dev routes and their object commands, the dev token's answer and its key, the
# fault injection); each is in a dev build's wasm (checked by hand when this list was written: `CART_FEATURES=dev
# bash scripts/build-worker.sh`, then grep worker/build/index_bg.wasm).
wasm=$(find "$out" -name '*.wasm' | head -1)
[ -n "$wasm" ] || { echo "no wasm in the deploy bundle" >&2; exit 1; }
for dev_only in sync-unchecked noop-write lines-unpriced benchNoopWrite "the dev panic route" expiresIn /evict \
  "edge-cart dev tokens"; do
  if grep -q -a -F -- "$dev_only" "$wasm"; then
    echo "the deploy bundle carries dev code: found \"$dev_only\" in $wasm" >&2
    exit 1
  fi
done
echo "the deploy bundle carries none of the dev routes"
echo "| file | raw bytes | gzip -9 bytes |"
echo "|---|---|---|"
total_raw=0; total_gz=0
for f in $(cd "$out" && find . -type f \( -name '*.wasm' -o -name '*.js' -o -name '*.mjs' \) | sort); do
  raw=$(stat -c %s "$out/$f"); gz=$(gzip -9 -c "$out/$f" | wc -c)
  total_raw=$((total_raw + raw)); total_gz=$((total_gz + gz))
  echo "| ${f#./} | $raw | $gz |"
done
echo "| total | $total_raw | $total_gz |"
