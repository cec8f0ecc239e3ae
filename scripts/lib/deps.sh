# Shared by scripts/e2e-deps.sh and scripts/docker-deps.sh (sourced; POSIX sh): install
# Debian packages without letting their maintainer scripts start daemons, keep packaged
# services from running, stop packaged daemons in *this* network namespace only (the
# harness's own copies run in fleet-* namespaces and must survive), check tools.
# Messages start with "$DEPS_NAME: ".

deps_fail() {
  echo "$DEPS_NAME: $*" >&2
  exit 1
}

deps_require_root() {
  [ "$(id -u)" = 0 ] || deps_fail "must run as root"
}

# deps_install PACKAGE...: apt-get install the ones not installed (apt-get update first
# when one is unknown, unless E2E_DEPS_NO_UPDATE=1), with a policy-rc.d that keeps
# invoke-rc.d from starting their daemons.
deps_install() {
  export DEBIAN_FRONTEND=noninteractive
  missing=""
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      missing="$missing $p"
    fi
  done
  if [ -z "$missing" ]; then
    echo "$DEPS_NAME: all packages already installed"
    return 0
  fi
  echo "$DEPS_NAME: installing:$missing"
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
  if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi
  created_policy=0
}

# deps_disable_units UNIT...: on a machine run by systemd, stop them and keep them from starting.
deps_disable_units() {
  [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1 || return 0
  for u in "$@"; do
    if systemctl list-unit-files "$u" >/dev/null 2>&1; then
      systemctl disable --now "$u" >/dev/null 2>&1 || true
      systemctl mask "$u" >/dev/null 2>&1 || true
    fi
  done
}

# deps_stop_daemons COMM...: SIGTERM the processes of these names (/proc/PID/comm, 15
# chars max) in this network namespace, SIGKILL those still there after 5 s.
deps_stop_daemons() {
  self_net=$(readlink /proc/self/ns/net)
  stray=""
  for d in /proc/[0-9]*; do
    comm=$(cat "$d/comm" 2>/dev/null) || continue
    case " $* " in *" $comm "*) ;; *) continue ;; esac
    [ "$(readlink "$d/ns/net" 2>/dev/null)" = "$self_net" ] || continue
    stray="$stray ${d#/proc/}"
  done
  [ -n "$stray" ] || return 0
  echo "$DEPS_NAME: stopping packaged daemons:$stray"
  # shellcheck disable=SC2086
  kill -TERM $stray 2>/dev/null || true
  i=0
  left=$stray
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
}

# deps_require_tools TOOL...: each is on PATH (or an executable path) after installation.
deps_require_tools() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || deps_fail "$tool is missing after installation"
  done
}
