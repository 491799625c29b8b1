#!/usr/bin/env bash
# Serves the storefront and the API on http://127.0.0.1:8787 with the real workerd, in dev mode.
set -euo pipefail
source "$(dirname "$0")/versions.sh"
cd "$ROOT"
export PATH="$(dirname "$NODE22"):$PATH"
# The JWT key for user carts: a wrangler secret in production, a random local one here (kept across runs).
if [ ! -s .dev.vars ]; then
  echo "CART_JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" > .dev.vars
fi
# The dev build: dev routes (the demo's sign-in, benchmarks) and fault injection (see worker/Cargo.toml).
export CART_FEATURES="${CART_FEATURES-dev}"
export PERSIST_TO="${PERSIST_TO:-.wrangler/state}"
# The catalog lives in Workers KV; load the demo (or $CATALOG_FILE) into the local namespace.
bash scripts/seed-catalog.sh
extra=()
# Another wrangler config (scripts/test-shipped.sh serves the production build with one that builds nothing).
[ -n "${CART_WORKER_CONFIG:-}" ] && extra+=(--config "$CART_WORKER_CONFIG")
# Extra variables as NAME:VALUE words, e.g. CART_VARS="GUEST_CART_TTL_SECONDS:5 CART_WRITE_BURST:3".
for var in ${CART_VARS:-}; do
  extra+=(--var "$var")
done
if [ "${CART_NO_SECRET:-}" = 1 ]; then
  # A server with no shared secret, as a deployment that uses only its identity provider (tests). An --env-file
  # replaces .dev.vars entirely.
  env_file=$(mktemp)
  extra+=(--env-file "$env_file")
elif [ -n "${CART_JWT_SECRET:-}" ]; then
  # A caller-chosen key (the tests sign their own tokens). An --env-file replaces .dev.vars entirely, whereas a
  # --var of the same name loses to .dev.vars, so the key goes in a private env file.
  env_file=$(mktemp)
  chmod 600 "$env_file"
  printf 'CART_JWT_SECRET=%s\n' "$CART_JWT_SECRET" > "$env_file"
  extra+=(--env-file "$env_file")
fi
exec node_modules/.bin/wrangler dev --local --ip 127.0.0.1 --port "${PORT:-8787}" \
  --var "ENVIRONMENT:${CART_ENVIRONMENT:-dev}" --persist-to "$PERSIST_TO" "${extra[@]}" "$@"
