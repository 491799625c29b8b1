#!/usr/bin/env bash
# Everything `wrangler dev` and `wrangler deploy` serve: the worker (worker/build/), the browser library the
# storefront imports (www/pkg/) and the React and Vue examples (www/examples/). wrangler.toml's [build] command; each step skips work that is already done.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-worker.sh
bash scripts/build-client.sh
bash scripts/build-examples.sh
