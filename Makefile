# Gatehouse: `make run` and `make test` do everything on a fresh machine (installing what is
# missing, idempotently). See README.md.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export PATH := $(HOME)/.cargo/bin:$(CURDIR)/end2end/node_modules/.bin:$(PATH)

CARGO_LEPTOS_VERSION := 0.3.10
WASM_BINDGEN_VERSION := $(shell sed -n '/^name = "wasm-bindgen"$$/{n;s/version = "\(.*\)"/\1/p}' Cargo.lock)
GATEHOUSE_TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/postgres
export GATEHOUSE_TEST_POSTGRES_URL

.PHONY: run build test test-peers native-deps bench openapi sdk sdk-check sdk-test sdk-node-deps tools system-deps node-deps services lint unit e2e api-contract clean

## run: build the release binary and assets, then serve http://127.0.0.1:3000 on data/gatehouse.db
run: build
	./target/release/gatehouse serve

## build: target/release/gatehouse and target/site (release)
build: native-deps tools node-deps
	cargo leptos build --release

SCHEMATHESIS_VERSION := 4.32.5

## test: formatting, lints for both features, unit + integration tests (SQLite and Postgres), the API
## contract (schemathesis), e2e, SDKs
test: native-deps tools system-deps node-deps services lint test-peers unit build api-contract e2e sdk-test

lint:
	cargo fmt --check
	python3 tests/support/module_cycles.py src
	cargo clippy --features ssr --all-targets -- -D warnings
	cargo clippy --no-default-features --features hydrate --lib --target wasm32-unknown-unknown -- -D warnings

unit:
	@rm -f target/tmp/skipped-tests.log
	cargo test --features ssr
	@# Without Postgres or Redis (and outside CI) those runs are skipped: say so, never silently.
	@if [ -s target/tmp/skipped-tests.log ]; then \
		echo "NOTE: $$(wc -l < target/tmp/skipped-tests.log) test runs were skipped:"; sort target/tmp/skipped-tests.log | uniq -c; fi

e2e:
	cd end2end && npm test

## api-contract: schemathesis (--checks all, stateful phase included) against target/release/gatehouse
## (built by `make build`), seeded with an Owner's organization and an API key holding every scope
api-contract:
	tests/support/api_contract.sh target/release/gatehouse

## bench: organization reads and API-key reads under load (loopback only), as ratios to a bare
## axum handler, the rate limiter's in-memory check (criterion), and webhook deliveries per second and latency
bench: native-deps tools services
	@command -v hey >/dev/null || apt-get install -y hey
	cargo bench --features ssr --bench orgs
	cargo bench --features ssr --bench api_keys
	cargo bench --features ssr --bench ratelimit
	cargo bench --features ssr --bench webhooks

## openapi: regenerate docs/openapi.json from the handlers' annotations (a unit test fails when it is stale)
openapi:
	cargo run --quiet --features ssr --bin gatehouse -- openapi > docs/openapi.json.tmp
	mv docs/openapi.json.tmp docs/openapi.json

## sdk: regenerate sdk/typescript/src/schema.d.ts and sdk/rust/src/generated.rs from docs/openapi.json
## (generators are installed into sdk/typescript/node_modules and sdk/.tools when missing)
sdk: sdk-node-deps
	cd sdk/typescript && node_modules/.bin/openapi-typescript ../../docs/openapi.json -o src/schema.d.ts
	sdk/rust/codegen/generate.sh

## sdk-check: fail when either SDK's generated code differs from what docs/openapi.json gives (runs both generators)
sdk-check: sdk-node-deps
	cd sdk/typescript && npm run --silent check-drift
	sdk/rust/codegen/generate.sh --check

## sdk-test: drift checks, tsc, then both SDKs against target/release/gatehouse (built by `make build`)
sdk-test: sdk-node-deps
	cd sdk/typescript && npm run --silent check-drift && node_modules/.bin/tsc --noEmit
	sdk/rust/codegen/generate.sh --check-spec
	sdk/run-live-tests.sh target/release/gatehouse

sdk-node-deps:
	@[ -x sdk/typescript/node_modules/.bin/openapi-typescript ] && [ -x sdk/typescript/node_modules/.bin/tsx ] || (cd sdk/typescript && npm ci --no-audit --no-fund)

## tools: Rust toolchain pieces cargo-leptos needs (each skipped when already present)
tools:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	@cargo leptos --version 2>/dev/null | grep -q "$(CARGO_LEPTOS_VERSION)" || cargo install cargo-leptos@$(CARGO_LEPTOS_VERSION) --locked
	@# no --locked: it would pin a webpki-roots version the registry does not serve
	@wasm-bindgen --version 2>/dev/null | grep -q "$(WASM_BINDGEN_VERSION)" || cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION)

## node-deps: playwright-core and wasm-opt (npm binaryen; Debian's breaks hydration)
node-deps:
	@[ -x end2end/node_modules/.bin/wasm-opt ] && [ -d end2end/node_modules/playwright-core ] || (cd end2end && npm ci --no-audit --no-fund)

## test-peers: the SSO test peers: the OIDC provider's npm packages and OpenLDAP's slapd + ldap-utils
test-peers:
	@[ -d tests/support/oidc/node_modules/oidc-provider ] || (cd tests/support/oidc && npm ci --no-audit --no-fund)
	@bash tests/support/ldap/install.sh
	@bash tests/support/saml/install.sh

## native-deps: C libraries the build links (samael's SAML signatures: libxml2 + xmlsec1, bindings via libclang)
native-deps:
	@pkg-config --exists xmlsec1 libxml-2.0 2>/dev/null && [ -n "$$(ls /usr/lib/llvm-*/lib/libclang.so* 2>/dev/null)" ] \
		|| (apt-get update -q && apt-get install -y -q --no-install-recommends libxmlsec1-dev libxml2-dev libclang-dev pkg-config)

## system-deps: Chromium for e2e, aiosmtpd for the test SMTP server, standardwebhooks for the webhook receiver,
## schemathesis for the API contract
system-deps:
	@command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q --no-install-recommends chromium)
	@python3 -c 'import aiosmtpd' 2>/dev/null || python3 -m pip install -q aiosmtpd
	@python3 -c 'import standardwebhooks' 2>/dev/null || python3 -m pip install -q standardwebhooks==1.1.0
	@schemathesis --version 2>/dev/null | grep -q " $(SCHEMATHESIS_VERSION)$$" || python3 -m pip install -q schemathesis==$(SCHEMATHESIS_VERSION)

## services: start PostgreSQL and Redis when they are not answering
REDIS_UP := [ "$$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ]
services:
	@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && exit 0; sleep 1; done; echo "PostgreSQL did not start" >&2; exit 1
	@command -v redis-server >/dev/null || (apt-get update -q && apt-get install -y -q --no-install-recommends redis-server)
	@$(REDIS_UP) || (mkdir -p /var/lib/redis /var/log/redis && redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log)
	@for i in $$(seq 1 30); do $(REDIS_UP) && exit 0; sleep 1; done; echo "Redis did not start" >&2; exit 1

clean:
	cargo clean
