#!/usr/bin/env bash
# Installs what idp.mjs and selftest.mjs need. Idempotent.
#  - runtime: Node 20 + npm (already on the machine), openssl CLI (keys are made at start-up),
#    npm packages from package-lock.json (samlify 2.13.1, @xmldom/xmldom 0.8.15,
#    @authenio/samlify-node-xmllint 2.0.0) into ./node_modules
#  - selftest only: xmlsec1 CLI (Debian package xmlsec1)
set -euo pipefail
cd "$(dirname "$0")"
need=()
command -v openssl >/dev/null || need+=(openssl)
command -v xmlsec1 >/dev/null || need+=(xmlsec1)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
if [ ! -f node_modules/samlify/package.json ] || [ ! -f node_modules/@xmldom/xmldom/package.json ] \
   || [ ! -f node_modules/@authenio/samlify-node-xmllint/package.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
