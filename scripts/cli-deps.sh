#!/usr/bin/env bash
# Debian packages the CLI tests (test/cli, `npm run cli-test`) need besides the engine
# (scripts/build-engine.sh): docker-registry (distribution 2.8), the registry the real
# docker provider reads digests from on loopback; openssl for its certificate;
# ssh-keygen for the stack's SSH key. The packaged registry service is kept from
# starting: the tests start their own on a free loopback port. Idempotent; run as root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(docker-registry openssl openssh-client)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    created_policy=1
  fi
  trap '[ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
for tool in docker-registry openssl ssh-keygen; do
  command -v "$tool" >/dev/null || { echo "cli-deps: $tool missing after install" >&2; exit 1; }
done
