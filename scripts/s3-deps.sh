#!/usr/bin/env bash
# The S3-compatible server the state-backend test (test/cli/s3-backend.test.ts) runs on
# loopback: moto's server mode (PyPI moto[server], pinned), in a virtualenv at
# .venv-moto (git-ignored). Prints nothing on success; idempotent.
#   bash scripts/s3-deps.sh       then   .venv-moto/bin/moto_server -H 127.0.0.1 -p PORT
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-moto"
MOTO="moto[server]==5.2.5"
fail() { echo "s3-deps: $*" >&2; exit 1; }
if [[ -x "$VENV/bin/moto_server" ]] && "$VENV/bin/python" -c 'import importlib.metadata as m; assert m.version("moto") == "5.2.5"' 2>/dev/null; then exit 0; fi
command -v python3 >/dev/null || fail "python3 not found (Debian package python3)"
if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
  # Debian's python3 keeps venv in a package of its own.
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq python3-venv >/dev/null || fail "python3 -m venv failed and python3-venv could not be installed"
  python3 -m venv "$VENV" || fail "python3 -m venv $VENV failed"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check "$MOTO" || fail "pip install $MOTO failed"
[[ -x "$VENV/bin/moto_server" ]] || fail "$VENV/bin/moto_server missing after install"
