#!/usr/bin/env bash
# Everything `wrangler dev` and `wrangler deploy` serve: the worker (worker/build/), the browser package
# (client-wasm/pkg/), the storefront bundled from it (www/index.html, www/assets/) and, in dev builds, the React and
# Vue examples (www/examples/). wrangler.toml's [build] command; each step skips work that is already done.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-worker.sh
bash scripts/build-client.sh
node scripts/build-storefront.mjs
bash scripts/build-examples.sh
