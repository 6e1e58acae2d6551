#!/usr/bin/env bash
# dns_server.py needs only Python 3 (stdlib). selftest.py also uses dig when present: Debian bind9-dnsutils. Idempotent.
set -euo pipefail
if ! command -v dig >/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends bind9-dnsutils
fi
