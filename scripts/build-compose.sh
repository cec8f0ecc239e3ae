#!/usr/bin/env bash
# Builds docker compose v2 from Go modules (wrapper module engine/compose) and installs it
# as a docker CLI plugin into .engine/docker/cli-plugins/docker-compose (git-ignored).
# Nothing is installed system-wide: point DOCKER_CONFIG at .engine/docker to use it
# (`DOCKER_CONFIG=$PWD/.engine/docker docker compose version`).
#
#   scripts/build-compose.sh           build unless the stamp matches the pinned version
#   scripts/build-compose.sh --force   rebuild even if the stamp matches
#
# Environment:
#   FLEET_DOCKER_CONFIG  where the docker config dir goes (default: <repo>/.engine/docker)
#   GOCACHE, GOMODCACHE  honoured as usual (Go's default caches make a rebuild fast)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONFIG_DIR="${FLEET_DOCKER_CONFIG:-$ROOT/.engine/docker}"
PLUGINS="$CONFIG_DIR/cli-plugins"
STAMP="$CONFIG_DIR/compose.stamp"

# Pinned version. Change it together with engine/compose/go.mod (then `go mod tidy` there).
COMPOSE_VERSION="v2.40.3"

# shellcheck source=lib/build.sh
. "$ROOT/scripts/lib/build.sh"
build_args build-compose 13 "$@"

command -v go >/dev/null 2>&1 || { echo "build-compose: 'go' not found on PATH" >&2; exit 1; }

go_build_env

stamp_content() {
  echo "compose=$COMPOSE_VERSION"
  echo "go=$(go env GOVERSION)"
  echo "mod=$(sha "$ROOT/engine/compose/go.mod" "$ROOT/engine/compose/go.sum")"
  echo "script=$(sha "${BASH_SOURCE[0]}")"
}

up_to_date() {
  [[ -x "$PLUGINS/docker-compose" ]] && stamp_matches "$STAMP" || return 1
  "$PLUGINS/docker-compose" version --short 2>/dev/null | grep -qx "${COMPOSE_VERSION#v}"
}

if [[ "$FORCE" == 0 ]] && up_to_date; then
  echo "build-compose: $PLUGINS/docker-compose is up to date (compose $COMPOSE_VERSION)"
  exit 0
fi

mkdir -p "$PLUGINS"
build_begin "$CONFIG_DIR" "$STAMP"

start=$SECONDS
echo "build-compose: building docker-compose $COMPOSE_VERSION (github.com/docker/compose/v2/cmd) ..."
if ! (cd "$ROOT/engine/compose" && go build -p "$GO_P" -trimpath \
  -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$COMPOSE_VERSION" \
  -o "$TMP/docker-compose" github.com/docker/compose/v2/cmd); then
  echo "build-compose: FAILED after $((SECONDS - start))s" >&2
  exit 1
fi

got="$("$TMP/docker-compose" version --short)"
if [[ "$got" != "${COMPOSE_VERSION#v}" ]]; then
  echo "build-compose: built docker-compose reports '$got', expected '${COMPOSE_VERSION#v}'" >&2
  exit 1
fi
mv -f "$TMP/docker-compose" "$PLUGINS/docker-compose"
stamp_content > "$STAMP"
echo "build-compose: docker-compose $COMPOSE_VERSION ready in $PLUGINS; build took $((SECONDS - start)) seconds"
