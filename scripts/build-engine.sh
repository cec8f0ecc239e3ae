#!/usr/bin/env bash
# Builds the local Pulumi engine from Go modules into .engine/bin (see engine/README.md).
#
#   scripts/build-engine.sh           build unless .engine/bin already holds the pinned versions
#   scripts/build-engine.sh --force   rebuild even if the stamp matches
#
# Environment:
#   PULUMI_ENGINE_DIR   where to put bin/ and the stamp (default: <repo>/.engine)
#   GOCACHE, GOMODCACHE honoured as usual; by default Go's own caches are used
#                       (~/.cache/go-build, ~/go/pkg/mod) so that rebuilds in a
#                       fresh clone on the same machine are fast.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ENGINE_DIR="${PULUMI_ENGINE_DIR:-$ROOT/.engine}"
BIN="$ENGINE_DIR/bin"
STAMP="$ENGINE_DIR/engine.stamp"

# Pinned versions. Change them together with engine/*/go.mod (then run `go mod tidy` there).
PULUMI_VERSION="v3.259.0"        # github.com/pulumi/pulumi/pkg/v3 and sdk/v3 (engine/cli)
LANGHOST_SDK_VERSION="v3.68.0"   # github.com/pulumi/pulumi/sdk/v3 carrying nodejs/cmd/pulumi-language-nodejs

FORCE=0
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,12p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "build-engine: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

command -v go >/dev/null 2>&1 || { echo "build-engine: 'go' not found on PATH (need Go >= 1.25.11)" >&2; exit 1; }

# -mod=mod: resolve from go.mod/go.sum through the ordinary GOPROXY.
# -buildvcs=false: the wrapper modules live inside this git repo; VCS stamping is not wanted.
export GOFLAGS="-mod=mod -buildvcs=false"
export CGO_ENABLED=0
# 2-core machines: keep the build from oversubscribing.
GO_P="${GO_BUILD_P:-2}"

sha() { sha256sum "$@" | awk '{print $1}' | sha256sum | awk '{print $1}'; }

# Everything that determines the result goes into the stamp.
stamp_content() {
  echo "pulumi=$PULUMI_VERSION"
  echo "language-nodejs-sdk=$LANGHOST_SDK_VERSION"
  echo "go=$(go env GOVERSION)"
  echo "cli-mod=$(sha "$ROOT/engine/cli/go.mod" "$ROOT/engine/cli/go.sum")"
  echo "langhost-mod=$(sha "$ROOT/engine/language-nodejs/go.mod" "$ROOT/engine/language-nodejs/go.sum")"
  echo "script=$(sha "${BASH_SOURCE[0]}")"
}

BINARIES=(pulumi pulumi-language-nodejs pulumi-resource-pulumi-nodejs)

up_to_date() {
  [[ -f "$STAMP" ]] || return 1
  for b in "${BINARIES[@]}"; do [[ -x "$BIN/$b" ]] || return 1; done
  [[ "$(cat "$STAMP")" == "$(stamp_content)" ]] || return 1
  [[ "$("$BIN/pulumi" version 2>/dev/null)" == "$PULUMI_VERSION" ]] || return 1
}

if [[ "$FORCE" == 0 ]] && up_to_date; then
  echo "build-engine: $BIN is up to date (pulumi $PULUMI_VERSION); use --force to rebuild"
  exit 0
fi

mkdir -p "$BIN"
TMP="$(mktemp -d "$ENGINE_DIR/build.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
rm -f "$STAMP"

TOTAL_START=$SECONDS

# build <name> <wrapper dir> <package> <ldflags>
build() {
  local name="$1" dir="$2" pkg="$3" ldflags="$4" start=$SECONDS
  echo "build-engine: building $name ($pkg) ..."
  if ! (cd "$dir" && go build -p "$GO_P" -trimpath -ldflags "-s -w $ldflags" -o "$TMP/$name" "$pkg"); then
    echo "build-engine: FAILED to build $name after $((SECONDS - start))s" >&2
    exit 1
  fi
  echo "build-engine: built $name in $((SECONDS - start))s"
}

build pulumi "$ROOT/engine/cli" \
  github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
  "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION"

build pulumi-language-nodejs "$ROOT/engine/language-nodejs" \
  github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs \
  "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$LANGHOST_SDK_VERSION"

# Plugin for pulumi.dynamic.Resource: the CLI release archive ships an equivalent
# launcher; here it is generated. It runs the dynamic-provider entry point of the
# @pulumi/pulumi package installed where the program runs (its working directory).
cat > "$TMP/pulumi-resource-pulumi-nodejs" <<'EOF'
#!/bin/sh
script=$(node -e 'process.stdout.write(require.resolve("@pulumi/pulumi/cmd/dynamic-provider"))') || exit 1
exec node "$script" "$@"
EOF
chmod +x "$TMP/pulumi-resource-pulumi-nodejs"

# Sanity check before installing.
got="$("$TMP/pulumi" version)"
if [[ "$got" != "$PULUMI_VERSION" ]]; then
  echo "build-engine: built pulumi reports version '$got', expected '$PULUMI_VERSION'" >&2
  exit 1
fi

for b in "${BINARIES[@]}"; do mv -f "$TMP/$b" "$BIN/$b"; done
stamp_content > "$STAMP"

echo "build-engine: NOT built (modules not served by the Go module proxy, see engine/README.md):" \
  "pulumi-resource-command, pulumi-resource-random"
echo "build-engine: engine ready in $BIN (pulumi $PULUMI_VERSION); build took $((SECONDS - TOTAL_START)) seconds"
