#!/usr/bin/env bash
# Serves the storefront and the API on http://127.0.0.1:8787 with the real workerd, in dev mode.
set -euo pipefail
source "$(dirname "$0")/versions.sh"
cd "$ROOT"
export PATH="$(dirname "$NODE22"):$PATH"
exec node_modules/.bin/wrangler dev --local --ip 127.0.0.1 --port "${PORT:-8787}" \
  --var ENVIRONMENT:dev --persist-to "${PERSIST_TO:-.wrangler/state}" "$@"
