#!/usr/bin/env bash
# Everything `wrangler dev` and `wrangler deploy` serve: the worker (worker/build/) and the browser library the
# storefront imports (www/pkg/). wrangler.toml's [build] command; each step skips work that is already done.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-worker.sh
bash scripts/build-client.sh
