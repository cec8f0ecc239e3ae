#!/usr/bin/env bash
# Debian packages whose real tools validate rendered config in `npm test`
# (haproxy -c, nginx -t, caddy validate, promtool, amtool, systemd-analyze,
# docker-compose config) plus openssl and curl, which the script tests run.
# Idempotent; run as root. Packaged daemons are kept from starting: tests start
# their own copies.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(haproxy nginx caddy prometheus prometheus-alertmanager systemd docker-compose openssl curl ca-certificates procps util-linux git)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  # No init scripts may start services during the install.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
for tool in haproxy nginx caddy promtool amtool systemd-analyze docker-compose openssl curl flock; do
  command -v "$tool" >/dev/null || { echo "ci-deps: $tool missing after install" >&2; exit 1; }
done
