#!/usr/bin/env bash
# Runs both SDKs' tests against a live server: starts target/release/gatehouse on a free loopback
# port with a throwaway data directory, waits for /healthz, runs the TypeScript tests (node --test)
# and the Rust tests (cargo test) with GATEHOUSE_URL set, and always stops the server.
#
#   sdk/run-live-tests.sh [path/to/gatehouse]     (default: target/release/gatehouse)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${1:-$root/target/release/gatehouse}"
[ -x "$bin" ] || { echo "run-live-tests: $bin not found: build it first (make build)" >&2; exit 1; }

# shellcheck source=../tests/support/throwaway_server.sh
source "$root/tests/support/throwaway_server.sh"
start_throwaway_server run-live-tests "$bin"
echo "run-live-tests: gatehouse is serving $url (data in $data)"
export GATEHOUSE_URL="$url"

echo "== TypeScript SDK =="
(cd "$root/sdk/typescript" && npm test --silent)

echo "== Rust SDK =="
(cd "$root/sdk/rust" && nice -n 10 cargo test --locked --test live -- --nocapture)
