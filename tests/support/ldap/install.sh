#!/usr/bin/env bash
# Installs what start_slapd.py and selftest.py need (Debian 12): slapd + ldap-utils. Idempotent.
# apt-get install does not start a system slapd here; start_slapd.py runs its own throwaway one.
set -euo pipefail
need=()
[ -x /usr/sbin/slapd ] && [ -x /usr/sbin/slapadd ] || need+=(slapd)
command -v ldapwhoami >/dev/null && command -v ldapadd >/dev/null && command -v ldapsearch >/dev/null || need+=(ldap-utils)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
