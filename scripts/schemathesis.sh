#!/usr/bin/env bash
# The contract, checked against the running worker (CART_BASE_URL; scripts/with-dev-server.sh starts one) by
# Schemathesis: property-based requests generated from openapi.yaml, every check on (no 5xx for any input, every
# response, status, header and content type as documented). `make test` runs a bounded number of examples per
# operation (SCHEMATHESIS_EXAMPLES, default 20); `make contract` a longer run (200).
# The dev routes are dev-only and include fault injection (which answers 5xx on purpose): they are left out.
# use_after_free is off: it takes a DELETE of a line for the deletion of the cart a GET then reads. What the other
# checks may expect is in schemathesis.toml. The stateful phase is left out: the links it infers feed the user cart's
# `id` ("me") in as a guest cart id.
set -euo pipefail
source "$(dirname "$0")/versions.sh"
cd "$ROOT"
: "${CART_BASE_URL:?run under scripts/with-dev-server.sh}"
# A user token for the /v1/me routes, signed with the test server's current secret.
token=$("$NODE22" --input-type=module -e "import { tokenFor } from './tests/support/cart.mjs'; console.log(tokenFor('schemathesis-user'))")
exec "$SCHEMATHESIS_BIN" run openapi.yaml \
  --url "$CART_BASE_URL" \
  --checks all \
  --phases examples,coverage,fuzzing \
  --exclude-checks use_after_free \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-20}" \
  --exclude-path-regex '^/v1/dev/' \
  --header "Authorization: Bearer $token" \
  --workers 1 \
  --seed "${SCHEMATHESIS_SEED:-1}" \
  --generation-database none \
  --report junit --report-dir test-results/schemathesis \
  "$@"
