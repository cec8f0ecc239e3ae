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

PACKAGES="docker.io docker-registry busybox-static iptables debootstrap systemd-container"
# Daemons those packages may start (/proc/PID/comm names).
DAEMONS="dockerd containerd docker-registry registry"

if [ "$(id -u)" != 0 ]; then
  echo "docker-deps: must run as root" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive

missing=""
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing="$missing $p"
  fi
done

if [ -n "$missing" ]; then
  echo "docker-deps: installing:$missing"
  # Keep maintainer scripts from starting daemons (invoke-rc.d honours policy-rc.d).
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    created_policy=1
  fi
  trap 'if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi' EXIT
  # shellcheck disable=SC2086
  if [ "${E2E_DEPS_NO_UPDATE:-0}" != 1 ] && ! apt-get install -y --no-install-recommends --simulate $missing >/dev/null 2>&1; then
    apt-get update
  fi
  # shellcheck disable=SC2086
  apt-get install -y --no-install-recommends $missing
else
  echo "docker-deps: all packages already installed"
fi

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  for s in docker.service docker.socket containerd.service docker-registry.service; do
    systemctl disable --now "$s" >/dev/null 2>&1 || true
    systemctl mask "$s" >/dev/null 2>&1 || true
  done
fi

# Stop those daemons in *this* network namespace only (the harness's own run in fleet-*).
self_net=$(readlink /proc/self/ns/net)
stray=""
for d in /proc/[0-9]*; do
  comm=$(cat "$d/comm" 2>/dev/null) || continue
  case " $DAEMONS " in *" $comm "*) ;; *) continue ;; esac
  [ "$(readlink "$d/ns/net" 2>/dev/null)" = "$self_net" ] || continue
  stray="$stray ${d#/proc/}"
done
if [ -n "$stray" ]; then
  echo "docker-deps: stopping packaged daemons:$stray"
  # shellcheck disable=SC2086
  kill -TERM $stray 2>/dev/null || true
  sleep 2
  # shellcheck disable=SC2086
  kill -KILL $stray 2>/dev/null || true
fi

# The root namespace's FORWARD policy must still be ACCEPT: the test bridge relies on it.
policy_line=$(iptables -S FORWARD 2>/dev/null | head -n 1 || true)
if [ "$policy_line" != "-P FORWARD ACCEPT" ]; then
  echo "docker-deps: iptables FORWARD policy in the root namespace is '$policy_line', expected '-P FORWARD ACCEPT'" >&2
  echo "docker-deps: was dockerd started in the root namespace? The e2e bridge needs FORWARD ACCEPT." >&2
  exit 1
fi

for tool in dockerd containerd runc /usr/bin/docker docker-registry busybox iptables nsenter debootstrap; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "docker-deps: $tool is missing after installation" >&2
    exit 1
  fi
done
echo "docker-deps: ready"
