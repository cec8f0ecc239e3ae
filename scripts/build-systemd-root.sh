#!/usr/bin/env bash
# Builds the Debian root filesystem that test/docker/systemd.test.ts boots with
# systemd-nspawn (systemd as PID 1): debootstrap --variant=minbase of Debian bookworm with
# systemd, dbus, openssh-server and busybox, all from Debian's packages, into
# .engine/systemd-root (git-ignored). The tests boot it read-only with a tmpfs overlay
# (--volatile=overlay), so it stays as built. No SSH host key is kept in it.
#
#   scripts/build-systemd-root.sh           build unless the stamp matches
#   scripts/build-systemd-root.sh --force   rebuild even if the stamp matches
#
# Environment:
#   FLEET_SYSTEMD_ROOT  where the tree goes (default: <repo>/.engine/systemd-root)
#   DEBIAN_MIRROR       the Debian mirror (default: debootstrap's own)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TREE="${FLEET_SYSTEMD_ROOT:-$ROOT/.engine/systemd-root}"
PARENT="$(dirname "$TREE")"
STAMP="$TREE.stamp"
SUITE="bookworm"
INCLUDE="systemd,systemd-sysv,dbus,openssh-server,busybox"

# shellcheck source=lib/build.sh
. "$ROOT/scripts/lib/build.sh"
build_args build-systemd-root 13 "$@"

fail() { echo "build-systemd-root: $*" >&2; exit 1; }
[[ "$(id -u)" == 0 ]] || fail "must run as root (debootstrap)"
command -v debootstrap >/dev/null 2>&1 || fail "'debootstrap' not found (scripts/docker-deps.sh installs it)"

stamp_content() {
  echo "suite=$SUITE"
  echo "include=$INCLUDE"
  echo "debootstrap=$(dpkg-query -W -f='${Version}' debootstrap)"
  echo "script=$(sha "${BASH_SOURCE[0]}")"
}

if [[ "$FORCE" == 0 ]] && [[ -x "$TREE/lib/systemd/systemd" ]] && stamp_matches "$STAMP"; then
  echo "build-systemd-root: $TREE is up to date ($SUITE, systemd $(chroot "$TREE" dpkg-query -W -f='${Version}' systemd))"
  exit 0
fi

build_begin "$PARENT" "$STAMP"
start=$SECONDS
echo "build-systemd-root: debootstrap $SUITE (minbase + $INCLUDE) ..."
# shellcheck disable=SC2086 # DEBIAN_MIRROR is one word or none
if ! debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$TMP/tree" ${DEBIAN_MIRROR:-} > "$TMP/debootstrap.log" 2>&1; then
  tail -n 30 "$TMP/debootstrap.log" >&2
  fail "debootstrap FAILED after $((SECONDS - start))s (log above)"
fi
# The tests bring their own host key and sshd settings; nothing machine-specific stays.
rm -f "$TMP/tree"/etc/ssh/ssh_host_* "$TMP/tree/var/cache/apt/archives/"*.deb
: > "$TMP/tree/etc/machine-id"
[[ -x "$TMP/tree/lib/systemd/systemd" ]] || fail "the tree has no /lib/systemd/systemd"
rm -rf "$TREE"
mv "$TMP/tree" "$TREE"
stamp_content > "$STAMP"
echo "build-systemd-root: $TREE ready (systemd $(chroot "$TREE" dpkg-query -W -f='${Version}' systemd)); build took $((SECONDS - start)) seconds"
