# Sourced by scripts that test a live server (sdk/run-live-tests.sh, tests/support/api_contract.sh):
# `start_throwaway_server NAME BIN` starts BIN on a free loopback port with its own data directory,
# waits for /healthz and sets `url`, `data` and `log`. On exit the server is always stopped; a
# failing run keeps `data` (server log and anything the caller wrote there) and prints the log's end.
start_throwaway_server() {
  local name="$1" bin="$2" root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  local port
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
  data="$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-$name.XXXXXX")"
  log="$data/server.log"
  server_pid=""
  trap stop_throwaway_server EXIT INT TERM
  # The server runs from the repository root (it serves target/site from there).
  (cd "$root" && exec "$bin" serve --listen "127.0.0.1:$port" --data-dir "$data") >"$log" 2>&1 &
  server_pid=$!
  url="http://127.0.0.1:$port"
  local i
  for i in $(seq 1 100); do
    if curl -fsS -o /dev/null "$url/healthz" 2>/dev/null; then return 0; fi
    kill -0 "$server_pid" 2>/dev/null || { echo "$name: the server exited during start-up" >&2; exit 1; }
    [ "$i" -eq 100 ] && { echo "$name: no answer from $url/healthz after 20 s" >&2; exit 1; }
    sleep 0.2
  done
}

stop_throwaway_server() {
  local status=$?
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ] && [ -f "$log" ]; then
    echo "---- last lines of the server log ($log); everything else is in $data ----" >&2
    tail -n 40 "$log" >&2 || true
  else
    rm -rf "$data"
  fi
  exit "$status"
}
