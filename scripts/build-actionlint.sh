#!/usr/bin/env bash
# Builds actionlint (the workflow linter) from the Go module github.com/rhysd/actionlint at
# the pinned version into .engine/bin (git-ignored), like scripts/build-engine.sh: a no-op
# when the binary there already reports that version. Go's module and build caches make a
# rebuild in a fresh clone fast. test/cli/workflows.test.ts runs it on .github/workflows
# and .forgejo/workflows.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="1.7.7"
BIN="${PULUMI_ENGINE_DIR:-$ROOT/.engine}/bin"
command -v go >/dev/null 2>&1 || { echo "build-actionlint: 'go' not found on PATH" >&2; exit 1; }
if [[ -x "$BIN/actionlint" ]] && [[ "$("$BIN/actionlint" -version | head -1)" == "v$VERSION" ]]; then exit 0; fi
mkdir -p "$BIN"
CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false" GOBIN="$BIN" go install "github.com/rhysd/actionlint/cmd/actionlint@v$VERSION"
[[ "$("$BIN/actionlint" -version | head -1)" == "v$VERSION" ]] || { echo "build-actionlint: $BIN/actionlint does not report $VERSION" >&2; exit 1; }
