#!/usr/bin/env bash
# Fuzzes every decoder with cargo fuzz (libFuzzer, nightly Rust): FUZZ_RUNS executions per target (default 1M),
# starting from the committed corpus plus fresh seeds; then minimises the corpus back into fuzz/corpus/<target>/
# and copies any crasher into fuzz/crashers/<target>/, where `make test` replays it on stable. Prints a table.
#   make fuzz                      all targets, 1M runs each
#   FUZZ_RUNS=100000 FUZZ_TARGETS="receive_sync" make fuzz
set -euo pipefail
source "$(dirname "$0")/versions.sh"
cd "$ROOT"
runs="${FUZZ_RUNS:-1000000}"
targets="${FUZZ_TARGETS:-load_document load_incremental receive_sync request_body local_storage forged_change}"

if ! rustup run "$SHIP_TOOLCHAIN" rustc --version >/dev/null 2>&1; then
  echo "make fuzz needs a nightly Rust toolchain (libFuzzer's sanitizer coverage): rustup toolchain install $SHIP_TOOLCHAIN (make setup does)" >&2
  exit 1
fi
if [ ! -x "$CARGO_FUZZ_BIN" ]; then
  echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION into .tools/"
  cargo install --locked --quiet --root "$TOOLS/cargo-fuzz-$CARGO_FUZZ_VERSION" cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi
# cargo fuzz <run|cmin> --fuzz-dir fuzz/libfuzzer <target> ... (the package that holds the libFuzzer binaries).
fuzz() { local cmd=$1; shift; rustup run "$SHIP_TOOLCHAIN" "$CARGO_FUZZ_BIN" fuzz "$cmd" --fuzz-dir fuzz/libfuzzer "$@"; }

# The targets on cart-core alone build without the worker and the browser library (cart-fuzz's `hosts` feature):
# libFuzzer collects coverage from every linked function, and forged_change linked with both ran at 44 exec/s
# (BENCHMARKS.md). FUZZ_SANITIZER picks cargo fuzz's sanitizer (default address; `none` is several times faster
# and still catches every panic, which is what these targets look for: cart-core and Automerge are safe Rust).
target_flags() {
  case "$1" in
    request_body | local_storage) echo "-s ${FUZZ_SANITIZER:-address}" ;;
    *) echo "--no-default-features -s ${FUZZ_SANITIZER:-address}" ;;
  esac
}

cargo run --quiet -p cart-fuzz --example seed_corpus
mkdir -p target/fuzz
rows=()
for t in $targets; do
  echo "== $t: $runs runs"
  corpus="fuzz/corpus/$t"
  work="target/fuzz/$t"
  rm -rf "$work" && mkdir -p "$work/grown" "$work/artifacts"
  cp "$corpus"/* "$work/grown/"
  start=$(date +%s)
  status=0
  fuzz run $(target_flags "$t") "$t" "$work/grown" -- -runs="$runs" -max_len=65536 -rss_limit_mb=2048 \
    -artifact_prefix="$work/artifacts/" -print_final_stats=1 > "$work/log" 2>&1 || status=$?
  seconds=$(( $(date +%s) - start ))
  tail -n 20 "$work/log" | grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|SUMMARY|panicked" || true
  crashes=0
  for a in "$work"/artifacts/*; do
    [ -e "$a" ] || continue
    mkdir -p "fuzz/crashers/$t"
    cp "$a" "fuzz/crashers/$t/"
    crashes=$((crashes + 1))
  done
  # Minimise: keep only inputs that add coverage, in place of the committed corpus.
  if fuzz cmin $(target_flags "$t") "$t" "$work/grown" > "$work/cmin.log" 2>&1 && [ -n "$(ls -A "$work/grown")" ]; then
    rm -f "$corpus"/* && cp "$work/grown"/* "$corpus/"
  else
    echo "corpus minimisation failed for $t (kept the committed corpus); see $work/cmin.log" >&2
  fi
  executed=$(grep -E "^stat::number_of_executed_units" "$work/log" | awk '{print $2}' || true)
  rows+=("| $t | ${executed:-?} | $seconds | $(( ${executed:-0} / (seconds > 0 ? seconds : 1) )) | $(ls "$corpus" | wc -l) | $crashes |")
  if [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ]; then
    echo "cargo fuzz failed on $t without a crasher; see $work/log" >&2
    exit 1
  fi
done
echo
echo "| target | executions | seconds | exec/s | corpus files (minimised) | crashers |"
echo "|---|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
if ls fuzz/crashers/*/* >/dev/null 2>&1 && [ -n "$(git status --porcelain fuzz/crashers)" ]; then
  echo "new crashers in fuzz/crashers/: fix them; make test replays them (fuzz/tests/replay.rs)" >&2
  exit 1
fi
