#!/usr/bin/env bash
# Loads a catalog file (default catalog/demo.json, or $CATALOG_FILE) into the local CATALOG KV namespace that
# `wrangler dev` uses (under $PERSIST_TO, default .wrangler/state). Run by scripts/dev.sh at every start.
# For production: node scripts/seed-catalog.mjs FILE out.json && wrangler kv bulk put out.json --binding CATALOG --remote
set -euo pipefail
source "$(dirname "$0")/versions.sh"
cd "$ROOT"
export PATH="$(dirname "$NODE22"):$PATH"
file="${1:-${CATALOG_FILE:-catalog/demo.json}}"
bulk=$(mktemp --suffix .json)
trap 'rm -f "$bulk"' EXIT
node scripts/seed-catalog.mjs "$file" "$bulk"
config=()
[ -n "${CART_WORKER_CONFIG:-}" ] && config=(--config "$CART_WORKER_CONFIG")
node_modules/.bin/wrangler kv bulk put "$bulk" --binding CATALOG --local --persist-to "${PERSIST_TO:-.wrangler/state}" \
  "${config[@]}" >/dev/null
