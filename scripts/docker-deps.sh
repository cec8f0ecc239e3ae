#!/bin/sh
# Install what the real-Docker suite (test/docker) needs from Debian's packages, without
# starting any of their daemons: the harness starts dockerd inside the puck test host's
# network namespace and the registry on loopback inside it. A dockerd in the root
# namespace would set the iptables FORWARD policy to DROP and cut the test bridge, so
# this script refuses to finish if one is running. Idempotent; run as root.
#
#   scripts/docker-deps.sh
#   E2E_DEPS_NO_UPDATE=1 scripts/docker-deps.sh   never run apt-get update
set -eu

# openssl: the DAARION gateway's test certificate; git: its repository, cloned over SSH on puck;
# debootstrap and systemd-container: the Debian tree the systemd suite boots (build-systemd-root.sh).
PACKAGES="docker.io docker-registry busybox-static iptables debootstrap systemd-container openssl git"
# Daemons those packages may start (/proc/PID/comm names).
DAEMONS="dockerd containerd docker-registry registry"

. "$(dirname "$0")/lib/deps.sh"
DEPS_NAME=docker-deps

# shellcheck disable=SC2086 # the lists are word-split on purpose
{
  deps_require_root
  deps_install $PACKAGES
  deps_disable_units docker.service docker.socket containerd.service docker-registry.service
  # Those daemons in *this* network namespace only (the harness's own run in fleet-*).
  deps_stop_daemons $DAEMONS
}

# The root namespace's FORWARD policy must still be ACCEPT: the test bridge relies on it.
policy_line=$(iptables -S FORWARD 2>/dev/null | head -n 1 || true)
if [ "$policy_line" != "-P FORWARD ACCEPT" ]; then
  echo "docker-deps: iptables FORWARD policy in the root namespace is '$policy_line', expected '-P FORWARD ACCEPT'" >&2
  echo "docker-deps: was dockerd started in the root namespace? The e2e bridge needs FORWARD ACCEPT." >&2
  exit 1
fi

deps_require_tools dockerd containerd runc /usr/bin/docker docker-registry busybox iptables nsenter debootstrap systemd-nspawn openssl git ldd
echo "docker-deps: ready"
