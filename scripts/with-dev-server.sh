#!/usr/bin/env bash
# Runs a command against a fresh `wrangler dev` (real workerd) on a spare port, then stops the server.
# The command sees CART_BASE_URL. Storage lives in a throwaway directory unless PERSIST_TO is given.
set -euo pipefail
source "$(dirname "$0")/versions.sh"
cd "$ROOT"
export PORT="${PORT:-8799}"
export CART_BASE_URL="http://127.0.0.1:$PORT"
# Known keys, so tests can also forge, expire and tamper with tokens: the current secret and a previous one still
# accepted (a rotation in progress), separated by a space.
rand() { head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
export CART_JWT_SECRET="${CART_JWT_SECRET:-test-secret-$(rand) previous-secret-$(rand)}"
# The shared test server takes every test's writes from 127.0.0.1: rate limits are tested on a server of their own.
# Its views read the catalog fresh (tests change prices and look at once); the isolate's catalog cache is tested on
# a server of its own too (tests/catalog.test.mjs).
export CART_VARS="${CART_VARS:-CATALOG_CACHE_SECONDS:0 CART_WRITE_BURST:1000000 CART_WRITES_PER_SECOND:1000000 CLIENT_WRITE_BURST:1000000 CLIENT_WRITES_PER_SECOND:1000000 CLIENT_READ_BURST:1000000 CLIENT_READS_PER_SECOND:1000000}"
persist_dir=$(mktemp -d)
export PERSIST_TO="${PERSIST_TO:-$persist_dir}"
log="${DEV_SERVER_LOG:-$persist_dir/wrangler.log}"
export CART_SERVER_LOG="$log"

setsid bash scripts/dev.sh >"$log" 2>&1 &
server=$!
stop() {
  kill -TERM -- "-$server" 2>/dev/null || true
  sleep 1
  kill -KILL -- "-$server" 2>/dev/null || true
  rm -rf "$persist_dir"
}
trap stop EXIT

# First start includes the worker build; allow a few minutes.
for _ in $(seq 1 300); do
  if curl -sf "$CART_BASE_URL/health" >/dev/null; then
    break
  fi
  if ! kill -0 "$server" 2>/dev/null; then
    echo "with-dev-server: wrangler dev exited; its log:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 1
done
curl -sf "$CART_BASE_URL/health" >/dev/null || { echo "with-dev-server: no answer on $CART_BASE_URL" >&2; cat "$log" >&2; exit 1; }
"$@"
