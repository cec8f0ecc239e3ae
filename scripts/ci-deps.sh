#!/usr/bin/env bash
# Debian packages whose real tools validate rendered config in tests
# (haproxy -c, nginx -t, caddy validate, promtool, amtool, systemd-analyze,
# docker-compose config) and the daemons the end-to-end suite runs.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends \
  haproxy nginx caddy prometheus prometheus-alertmanager systemd \
  docker-compose openssh-server openssh-client postgresql postgresql-client \
  iproute2 util-linux curl ca-certificates openssl python3 >/dev/null
# Package scripts may start daemons where no init system runs; tests start their own.
for d in haproxy nginx caddy prometheus prometheus-alertmanager alertmanager postgres sshd; do
  pkill -x "$d" 2>/dev/null || true
done
