# Shared by the build scripts (sourced; bash): build-engine.sh, build-compose.sh and
# build-systemd-root.sh. A build is up to date when its stamp file holds exactly what the
# script's `stamp_content` prints now (every input that decides the result); a build writes
# into a scratch directory and removes the old stamp first, so an interrupted build is
# never taken for a finished one.

# build_args NAME LAST_HELP_LINE ARG...: `--force` sets FORCE=1; `-h` prints the
# calling script's header comment (lines 2..LAST_HELP_LINE).
build_args() {
  local name="$1" help="$2" arg
  shift 2
  FORCE=0
  for arg in "$@"; do
    case "$arg" in
      --force) FORCE=1 ;;
      -h|--help) sed -n "2,${help}p" "$0"; exit 0 ;;
      *) echo "$name: unknown argument: $arg" >&2; exit 2 ;;
    esac
  done
}

# sha FILE...: one sha256 over the files' sha256s.
sha() { sha256sum "$@" | awk '{print $1}' | sha256sum | awk '{print $1}'; }

# stamp_matches STAMP: the stamp file holds what `stamp_content` prints now.
stamp_matches() {
  [[ -f "$1" ]] && [[ "$(cat "$1")" == "$(stamp_content)" ]]
}

# build_begin DIR STAMP: TMP becomes a new scratch directory inside DIR (removed on
# exit), and the old stamp is removed.
build_begin() {
  mkdir -p "$1"
  TMP="$(mktemp -d "$1/build.XXXXXX")"
  # shellcheck disable=SC2064 # expand TMP now
  trap "rm -rf '$TMP'" EXIT
  rm -f "$2"
}

# go_build_env: module resolution through GOPROXY (-mod=mod), no VCS stamping (the
# wrapper modules live inside this repository), static binaries, GO_P parallel jobs
# (GO_BUILD_P, default 2: the machine has 2 cores).
go_build_env() {
  export GOFLAGS="-mod=mod -buildvcs=false"
  export CGO_ENABLED=0
  GO_P="${GO_BUILD_P:-2}"
}
