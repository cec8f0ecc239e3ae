#!/usr/bin/env bash
# Puts the local Pulumi engine into .engine/bin (see engine/README.md):
#   - the CLI v3.259.0, built from Go modules (wrapper module engine/cli);
#   - the Node.js language host and the provider plugins, installed from the prebuilt,
#     checksummed binaries in ../shared/engine/ (beside the repository root).
#
#   scripts/build-engine.sh           no-op when .engine/bin already holds exactly this
#   scripts/build-engine.sh --force   rebuild and reinstall even if the stamp matches
#
# Environment:
#   PULUMI_ENGINE_DIR   where to put bin/ and the stamp (default: <repo>/.engine)
#   FLEET_PLUGINS_DIR   where the prebuilt plugins are (default: <repo>/../shared/engine)
#   GOCACHE, GOMODCACHE honoured as usual; by default Go's own caches are used
#                       (~/.cache/go-build, ~/go/pkg/mod) so that rebuilds in a
#                       fresh clone on the same machine are fast.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ENGINE_DIR="${PULUMI_ENGINE_DIR:-$ROOT/.engine}"
PLUGINS_DIR="${FLEET_PLUGINS_DIR:-$ROOT/../shared/engine}"
BIN="$ENGINE_DIR/bin"
STAMP="$ENGINE_DIR/engine.stamp"

# Pinned version. Change it together with engine/cli/go.mod (then run `go mod tidy` there).
PULUMI_VERSION="v3.259.0"        # github.com/pulumi/pulumi/pkg/v3 and sdk/v3 (engine/cli)

# Installed from $PLUGINS_DIR/<name>.xz, each checked against $PLUGINS_DIR/SHA256SUMS.
PLUGINS=(pulumi-language-nodejs pulumi-resource-command pulumi-resource-random pulumi-resource-postgresql pulumi-resource-docker)

# shellcheck source=lib/build.sh
. "$ROOT/scripts/lib/build.sh"
build_args build-engine 15 "$@"

fail() { echo "build-engine: $*" >&2; exit 1; }

command -v go >/dev/null 2>&1 || fail "'go' not found on PATH (need Go >= 1.25.11)"
command -v xz >/dev/null 2>&1 || fail "'xz' not found on PATH (Debian package xz-utils)"

# The plugins must be there, complete and listed, before anything is built.
[[ -d "$PLUGINS_DIR" ]] || fail "plugin directory $PLUGINS_DIR is missing: copy shared/engine/ beside the repository (or set FLEET_PLUGINS_DIR), or install the plugins with 'pulumi plugin install' (engine/README.md)"
SUMS="$PLUGINS_DIR/SHA256SUMS"
[[ -f "$SUMS" ]] || fail "$SUMS is missing: cannot check the plugins"
expected_sum() {
  local name="$1" sum
  sum="$(awk -v n="$name" '$2 == n || $2 == "*" n { print $1 }' "$SUMS")"
  [[ "$sum" =~ ^[0-9a-f]{64}$ ]] || fail "$SUMS lists no sha256 for $name"
  echo "$sum"
}
for p in "${PLUGINS[@]}"; do
  [[ -f "$PLUGINS_DIR/$p.xz" ]] || fail "$PLUGINS_DIR/$p.xz is missing"
  expected_sum "$p" >/dev/null
done

go_build_env

# Everything that determines the result goes into the stamp.
stamp_content() {
  echo "pulumi=$PULUMI_VERSION"
  echo "go=$(go env GOVERSION)"
  echo "cli-mod=$(sha "$ROOT/engine/cli/go.mod" "$ROOT/engine/cli/go.sum")"
  for p in "${PLUGINS[@]}"; do echo "$p=$(expected_sum "$p")"; done
  echo "script=$(sha "${BASH_SOURCE[0]}")"
}

up_to_date() {
  [[ -x "$BIN/pulumi" ]] || return 1
  for p in "${PLUGINS[@]}"; do
    [[ -x "$BIN/$p" ]] || return 1
    [[ "$(sha256sum "$BIN/$p" | awk '{print $1}')" == "$(expected_sum "$p")" ]] || return 1
  done
  stamp_matches "$STAMP" || return 1
  [[ "$("$BIN/pulumi" version 2>/dev/null)" == "$PULUMI_VERSION" ]] || return 1
}

if [[ "$FORCE" == 0 ]] && up_to_date; then
  echo "build-engine: $BIN is up to date (pulumi $PULUMI_VERSION + ${#PLUGINS[@]} plugins); use --force to rebuild"
  exit 0
fi

mkdir -p "$BIN"
build_begin "$ENGINE_DIR" "$STAMP"

TOTAL_START=$SECONDS

# The CLI. With Go's build cache warm this takes seconds.
start=$SECONDS
echo "build-engine: building pulumi $PULUMI_VERSION (github.com/pulumi/pulumi/pkg/v3/cmd/pulumi) ..."
if ! (cd "$ROOT/engine/cli" && go build -p "$GO_P" -trimpath \
      -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
      -o "$TMP/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi); then
  fail "FAILED to build pulumi after $((SECONDS - start))s"
fi
got="$("$TMP/pulumi" version)"
[[ "$got" == "$PULUMI_VERSION" ]] || fail "built pulumi reports version '$got', expected '$PULUMI_VERSION'"
echo "build-engine: built pulumi in $((SECONDS - start))s"

# The plugins: decompress, check, then install.
for p in "${PLUGINS[@]}"; do
  xz -dc "$PLUGINS_DIR/$p.xz" > "$TMP/$p" || fail "cannot decompress $PLUGINS_DIR/$p.xz"
  want="$(expected_sum "$p")"
  got="$(sha256sum "$TMP/$p" | awk '{print $1}')"
  [[ "$got" == "$want" ]] || fail "$p: sha256 $got does not match $want listed in $SUMS; not installed"
  chmod 0755 "$TMP/$p"
done

# The v3.68 language host and the dynamic-provider launcher of earlier builds are not used any more.
rm -f "$BIN/pulumi-resource-pulumi-nodejs"
mv -f "$TMP/pulumi" "$BIN/pulumi"
for p in "${PLUGINS[@]}"; do mv -f "$TMP/$p" "$BIN/$p"; done
stamp_content > "$STAMP"

echo "build-engine: installed ${PLUGINS[*]} from $PLUGINS_DIR (sha256 checked)"
echo "build-engine: engine ready in $BIN (pulumi $PULUMI_VERSION); build took $((SECONDS - TOTAL_START)) seconds"
