#!/usr/bin/env bash
# The API contract check (`make api-contract`): runs schemathesis (`--checks all`, every phase
# including the stateful one, which follows the document's `links`) against a throwaway release
# server, so the OpenAPI document cannot promise what the server does not do, or the reverse.
#
# Seeds the server through the API first: signs up an Owner, creates two organizations on the
# Enterprise tier (so the hourly quota does not end the run) and in each an API key holding every
# scope. The main organization is the one every operation works in; the second one only takes
# `updateOrganization` and `deleteOrganization`, which could otherwise turn the main key's API
# access off or delete the organization under the rest of the run (see schemathesis.toml).
#
#   tests/support/api_contract.sh [path/to/gatehouse]     (default: target/release/gatehouse)
#
# Extra arguments for schemathesis can be given in SCHEMATHESIS_ARGS (e.g. "--phases=stateful").
# (A failing run keeps its data directory, server log and report.)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${1:-$root/target/release/gatehouse}"
[ -x "$bin" ] || { echo "api-contract: $bin not found: build it first (make build)" >&2; exit 1; }
command -v schemathesis >/dev/null || { echo "api-contract: schemathesis is missing (make system-deps)" >&2; exit 1; }

# shellcheck source=throwaway_server.sh
source "$here/throwaway_server.sh"
start_throwaway_server api-contract "$bin"

# Seeding: a JSON request with the Owner's session cookie; prints the answer, fails on an error.
jar="$data/cookies"
api() {
  local method="$1" path="$2" body="${3:-}"
  curl -fsS -b "$jar" -c "$jar" -X "$method" -H 'Content-Type: application/json' \
    ${body:+--data "$body"} "$url/api/v1$path"
}
field() { python3 -c "import json, sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }

scopes='["org:read","org:write","org:delete","billing:write","members:read","members:write","invitations:write","audit:read","api_keys:write","webhooks:write","sso:write","ownership:transfer"]'
api POST /auth/signup '{"name":"Contract Owner","email":"owner@contract.example.com","password":"correct horse battery staple 42"}' >/dev/null
seed_org() {
  local org
  org="$(api POST /organizations "{\"name\":\"$1\"}" | field id)"
  api PATCH "/organizations/$org" '{"tier":"enterprise"}' >/dev/null
  api PATCH "/organizations/$org" '{"max_api_calls_per_hour":10000000,"max_users":100000}' >/dev/null
  local key
  key="$(api POST "/organizations/$org/api-keys" "{\"name\":\"contract\",\"scopes\":$scopes}" | field secret)"
  echo "$org $key"
}
main="$(seed_org "Contract")"
second="$(seed_org "Contract Settings")"
read -r GATEHOUSE_ORG GATEHOUSE_KEY <<<"$main"
read -r GATEHOUSE_ORG2 GATEHOUSE_KEY2 <<<"$second"
# One page of one entry: its `next_cursor` is a cursor this API returned.
GATEHOUSE_CURSOR="$(curl -fsS -H "Authorization: Bearer $GATEHOUSE_KEY" \
  "$url/api/v1/organizations/$GATEHOUSE_ORG/audit-logs?limit=1" | field next_cursor)"
export GATEHOUSE_URL="$url" GATEHOUSE_ORG GATEHOUSE_KEY GATEHOUSE_ORG2 GATEHOUSE_KEY2 GATEHOUSE_CURSOR
echo "api-contract: gatehouse is serving $url (data in $data), organization $GATEHOUSE_ORG"

started=$SECONDS
# shellcheck disable=SC2086
# API_CONTRACT_SCHEMA=docs/openapi.json checks a document regenerated since the binary was built.
schema="${API_CONTRACT_SCHEMA:-$url/api/v1/openapi.json}"
# Every check but `use_after_free`: DELETE on an API key revokes it, and the key stays readable
# with `status: revoked` (documented at `revokeApiKey`); `--checks all` on the command line
# overrides any per-operation setting in the file, so the one exception is made here.
# A fixed seed by default, so `make test` (and CI) generates the same cases every run and a failure
# can be replayed; SCHEMATHESIS_SEED=random explores new cases (worth doing after API changes).
seed="${SCHEMATHESIS_SEED:-20261205}"
seed_args=(--seed "$seed")
[ "$seed" = random ] && seed_args=()
schemathesis --config-file "$here/schemathesis.toml" run "$schema" --url "$url/api/v1" "${seed_args[@]}" \
  --checks all --exclude-checks use_after_free --report junit --report-dir "$data/report" ${SCHEMATHESIS_ARGS:-}
echo "api-contract: passed in $((SECONDS - started)) s"
