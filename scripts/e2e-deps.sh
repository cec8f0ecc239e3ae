#!/bin/sh
# Install what the end-to-end harness (test/e2e/harness) needs, from Debian's packages,
# without leaving any of the packaged daemons running: the harness starts its own copies
# inside network namespaces. Idempotent; run as root. CI calls it before `npm run e2e`.
#
#   scripts/e2e-deps.sh            install (apt-get update first if a package is unknown)
#   E2E_DEPS_NO_UPDATE=1 scripts/e2e-deps.sh   never run apt-get update
set -eu

PACKAGES="openssh-server openssh-client haproxy nginx caddy prometheus prometheus-alertmanager postgresql iproute2 curl util-linux"
# Daemons those packages may start (/proc/PID/comm names, 15 chars max). Not sshd:
# the host's own sshd does not get in the way and may be how this machine is reached.
DAEMONS="haproxy nginx caddy prometheus prometheus-aler postgres"
# Service names, for hosts that do run systemd.
SERVICES="haproxy nginx caddy prometheus prometheus-alertmanager postgresql"

if [ "$(id -u)" != 0 ]; then
  echo "e2e-deps: must run as root" >&2
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
  echo "e2e-deps: installing:$missing"
  # Keep maintainer scripts from starting daemons (invoke-rc.d honours policy-rc.d).
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    created_policy=1
  fi
  trap 'if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi' EXIT
  # shellcheck disable=SC2086 # word splitting of the package list is intended
  if [ "${E2E_DEPS_NO_UPDATE:-0}" != 1 ] && ! apt-get install -y --no-install-recommends --simulate $missing >/dev/null 2>&1; then
    apt-get update
  fi
  # shellcheck disable=SC2086
  apt-get install -y --no-install-recommends $missing
else
  echo "e2e-deps: all packages already installed"
fi

# Under systemd, stop the packaged services and keep them from starting again.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  for s in $SERVICES; do
    if systemctl list-unit-files "$s.service" >/dev/null 2>&1; then
      systemctl disable --now "$s.service" >/dev/null 2>&1 || true
      systemctl mask "$s.service" >/dev/null 2>&1 || true
    fi
  done
fi

# Kill stray daemons in *this* network namespace only: the harness's own copies run in
# fleet-* namespaces and must survive (another test run may be using them).
self_net=$(readlink /proc/self/ns/net)
stray=""
for d in /proc/[0-9]*; do
  pid=${d#/proc/}
  comm=$(cat "$d/comm" 2>/dev/null) || continue
  case " $DAEMONS " in *" $comm "*) ;; *) continue ;; esac
  [ "$(readlink "$d/ns/net" 2>/dev/null)" = "$self_net" ] || continue
  stray="$stray $pid"
done

if [ -n "$stray" ]; then
  echo "e2e-deps: stopping packaged daemons:$stray"
  # shellcheck disable=SC2086
  kill -TERM $stray 2>/dev/null || true
  i=0
  while [ $i -lt 50 ]; do
    left=""
    for pid in $stray; do
      if [ -d "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then left="$left $pid"; fi
    done
    [ -z "$left" ] && break
    sleep 0.1
    i=$((i + 1))
  done
  if [ -n "$left" ]; then
    # shellcheck disable=SC2086
    kill -KILL $left 2>/dev/null || true
  fi
fi

# Tools the harness calls directly.
for tool in ip nsenter unshare runuser setsid ssh ssh-keygen /usr/sbin/sshd haproxy nginx caddy prometheus promtool \
  prometheus-alertmanager amtool /usr/lib/postgresql/15/bin/initdb /usr/lib/postgresql/15/bin/pg_ctl psql curl; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "e2e-deps: $tool is missing after installation" >&2
    exit 1
  fi
done
echo "e2e-deps: ready"
