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

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
data="$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-sdk-test.XXXXXX")"
log="$data/server.log"
pid=""

cleanup() {
  status=$?
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ] && [ -f "$log" ]; then
    echo "---- last lines of the server log ($log) ----" >&2
    tail -n 40 "$log" >&2 || true
  else
    rm -rf "$data"
  fi
  exit "$status"
}
trap cleanup EXIT INT TERM

# The server runs from the repository root (it serves target/site from there) with its own data dir.
(cd "$root" && exec "$bin" serve --listen "127.0.0.1:$port" --data-dir "$data") >"$log" 2>&1 &
pid=$!

url="http://127.0.0.1:$port"
for i in $(seq 1 100); do
  if curl -fsS -o /dev/null "$url/healthz" 2>/dev/null; then break; fi
  kill -0 "$pid" 2>/dev/null || { echo "run-live-tests: the server exited during start-up" >&2; exit 1; }
  [ "$i" -eq 100 ] && { echo "run-live-tests: no answer from $url/healthz after 20 s" >&2; exit 1; }
  sleep 0.2
done
echo "run-live-tests: gatehouse is serving $url (data in $data)"
export GATEHOUSE_URL="$url"

echo "== TypeScript SDK =="
(cd "$root/sdk/typescript" && npm test --silent)

echo "== Rust SDK =="
(cd "$root/sdk/rust" && nice -n 10 cargo test --locked --test live -- --nocapture)
