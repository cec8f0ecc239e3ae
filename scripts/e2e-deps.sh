#!/bin/sh
# Install what the end-to-end harness (test/e2e/harness) needs, from Debian's packages,
# without leaving any of the packaged daemons running: the harness starts its own copies
# inside network namespaces. Idempotent; run as root. CI calls it before `npm run e2e`.
#
#   scripts/e2e-deps.sh            install (apt-get update first if a package is unknown)
#   E2E_DEPS_NO_UPDATE=1 scripts/e2e-deps.sh   never run apt-get update
set -eu

# systemd-container: systemd-nspawn, which boots a real systemd for test/e2e/app-env.test.ts.
PACKAGES="openssh-server openssh-client haproxy nginx caddy prometheus prometheus-alertmanager postgresql iproute2 curl util-linux systemd-container"
# Daemons those packages may start (/proc/PID/comm names, 15 chars max). Not sshd:
# the host's own sshd does not get in the way and may be how this machine is reached.
DAEMONS="haproxy nginx caddy prometheus prometheus-aler postgres"
# Their units, for machines that do run systemd.
UNITS="haproxy.service nginx.service caddy.service prometheus.service prometheus-alertmanager.service postgresql.service"

. "$(dirname "$0")/lib/deps.sh"
DEPS_NAME=e2e-deps

# shellcheck disable=SC2086 # the lists are word-split on purpose
{
  deps_require_root
  deps_install $PACKAGES
  deps_disable_units $UNITS
  deps_stop_daemons $DAEMONS
}

# Tools the harness calls directly.
deps_require_tools ip nsenter systemd-nspawn unshare runuser setsid ssh ssh-keygen /usr/sbin/sshd haproxy nginx caddy prometheus promtool \
  prometheus-alertmanager amtool /usr/lib/postgresql/15/bin/initdb /usr/lib/postgresql/15/bin/pg_ctl psql curl
echo "e2e-deps: ready"
