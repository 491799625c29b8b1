#!/usr/bin/env bash
# Builds the deployable bundle exactly as `wrangler deploy` would (--dry-run: no account needed) and prints its
# size, raw and gzip. Run by `make test` (so CI proves the deploy build works) and `make bundle-size`.
set -euo pipefail
source "$(dirname "$0")/versions.sh"
cd "$ROOT"
export PATH="$(dirname "$NODE22"):$PATH"
out=target/deploy-dry-run
rm -rf "$out"
node_modules/.bin/wrangler deploy --dry-run --outdir "$out" >"$out.log" 2>&1 || { cat "$out.log" >&2; exit 1; }
echo "| file | raw bytes | gzip -9 bytes |"
echo "|---|---|---|"
total_raw=0; total_gz=0
for f in $(cd "$out" && find . -type f \( -name '*.wasm' -o -name '*.js' -o -name '*.mjs' \) | sort); do
  raw=$(stat -c %s "$out/$f"); gz=$(gzip -9 -c "$out/$f" | wc -c)
  total_raw=$((total_raw + raw)); total_gz=$((total_gz + gz))
  echo "| ${f#./} | $raw | $gz |"
done
echo "| total | $total_raw | $total_gz |"
