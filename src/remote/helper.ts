/**
 * The file helper: one small POSIX sh program per host and service profile that does
 * everything a managed file needs (DESIGN.md, "Remote work: one primitive"), so that a
 * file resource's command is one readable line:
 *
 *   '/var/lib/fleet/bin/fleet-haproxy-3f2a9c1d4e5f' put '/etc/haproxy/conf.d/app.cfg' --owner 'root:haproxy' --mode '0640'
 *
 * The helper's text is the engine below plus a profile: the host's name, the service's
 * lock, and its assemble, validate and reload steps as shell functions. Its file name
 * ends in the sha256 of that text, so a changed profile or engine is a new file beside
 * the old one: resources still pointing at the old helper keep working, and the
 * installer never edits a file in place. `installHelperScript` puts it on a host
 * (content on stdin, checked against the hash); `src/remote/command.ts` registers one
 * installer resource per host and helper, and every file resource depends on its own.
 *
 * What `put` guarantees (and `rm`, the same careful way):
 *   1. content arrives on stdin into a temp file beside the target (umask 077, named by
 *      the call's process id) and gets its owner and mode, before the lock: the content
 *      needs no lock, and another call of the same daemon may swap its files meanwhile;
 *      any failure or exit before the swap removes the temp file, the live file untouched;
 *   2. the per-host, per-service flock is held for everything below, with no process
 *      that the shell can do without (the lock chain is a daemon's serial part);
 *   3. identical bytes, owner and mode: nothing is touched, no reload;
 *   4. the previous version is kept, the new one swapped in (renamed, or rewritten in
 *      place for bind-mounted files: same inode), derived files re-assembled, the whole
 *      config validated, the service reloaded;
 *   5. any failure restores the previous version (and derived files), reloads again
 *      when the failure was the reload, and exits non-zero with one summary line naming
 *      the file, the host and what was restored, then the daemon's own last lines;
 *   6. every write is checked (a full disk is a failure naming the file, never a
 *      truncated live file); the backup is removed only after success.
 *
 * Several files in one call (`put A … --and B …`, content a bundle on stdin) are one
 * transaction: all are swapped in, the whole config is assembled and validated once, and
 * any failure puts every one of them back, naming each (issue 15: one `haproxy -c` per
 * route instead of one per file). `rm A --and B` the same way.
 */
import { gzipSync } from "node:zlib";
import { sha256 } from "../hash";
import { type Daemon } from "./daemons";
import { sh } from "./quote";

/** Where helpers live on a host. Persistent (not /run): resources call them on every later update and delete. */
export const HELPER_DIR = "/var/lib/fleet/bin";

/** Lines of the daemon's own output shown under the summary line of a failure. */
const SHOWN_LINES = 25;

export interface HelperProfile {
  /** The host's logical name, for messages. */
  readonly host: string;
  readonly daemon: Daemon;
  /**
   * Shell run after the swap and again after a restore, to rebuild files derived from
   * fragments (e.g. the HAProxy host map from `hosts.d/*.map`).
   */
  readonly assemble?: string;
  /** Directory for lock files on the host. */
  readonly lockDir: string;
  /** Seconds to wait for the lock before failing. @default 300 */
  readonly lockTimeoutSeconds?: number;
}

export interface FileHelper {
  /** File name, e.g. `fleet-haproxy-3f2a9c1d4e5f`: the service and the text's hash. */
  readonly name: string;
  /** Absolute path on the host. */
  readonly path: string;
  /** The whole program. */
  readonly text: string;
  /** Hex sha256 of `text`. */
  readonly sha256: string;
}

/** A shell function whose body is `body` (or a no-op), as text. */
function fn(name: string, body: string | undefined): string {
  return body === undefined || body.trim() === "" ? `${name}() { :; }` : `${name}() {\n${body}\n}`;
}

/** `[a-z0-9-]` only, for a file name that says which service it is for. */
function slug(text: string): string {
  const s = text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40)
    .replace(/-+$/, "");
  return s === "" ? "file" : s;
}

/**
 * The engine: fixed text, the same for every profile. Reads the profile's variables
 * and functions defined above it. Every command whose failure matters is checked
 * explicitly: `set -e` does not stop inside `if`, `&&` or `||` lists.
 */
const ENGINE = String.raw`
report() {
  printf 'fleet: %s\n' "$1" >&2
  [ -n "${"$"}{2:-}" ] || return 0
  n=$(printf '%s\n' "$2" | wc -l)
  if [ "$n" -gt ${SHOWN_LINES} ]; then printf '  (%s earlier lines not shown)\n' "$((n - ${SHOWN_LINES}))" >&2; fi
  printf '%s\n' "$2" | tail -n ${SHOWN_LINES} | sed 's/^/  /' >&2
}
die() { report "$1" "${"$"}{2:-}"; exit 1; }
usage() { die "usage: put PATH --owner USER:GROUP --mode MODE [--in-place] [--keep-original] [--defer] [--bundled] [--set] [--and PATH ...] < content | rm PATH [--in-place] [--keep-without-original] [--defer] [--set] [--and PATH ...] | reload | hold"; }

tab=$(printf '\t')
# Files written with --defer and not reloaded yet, one line each: had, in-place, helper, path
# (tab-separated). Their live versions (what the daemon runs) are kept as .NAME.fleet-live.
pending_file="${"$"}{lock_file%.lock}.pending"
# Present from 'hold' (the daemon's reload resource is being deleted: a destroy) to the next
# 'reload' (the last removal's): 'rm --defer' waits for that reload instead of reloading.
held_file="${"$"}{lock_file%.lock}.held"
case $0 in /*) self=$0 ;; *) self=- ;; esac
defer=0

# Copy $1 to $2 with owner, mode and times, and check the bytes arrived (a full disk is a
# failure, never a short copy). Every backup and kept original is made this way.
copy_checked() { cp -p "$1" "$2" && cmp -s "$1" "$2"; }

# Sets $live: where the version of $1 the daemon runs is kept while a write waits. No process.
live_of() { live="${"$"}{1%/*}/.${"$"}{1##*/}.fleet-live"; }

# The paths waiting in the journal, one a line between line breaks, into $pending_paths: read
# once per call (one process, whatever the number of files), then matched with 'case'.
read_pending() {
  pending_paths=$nl
  [ -s "$pending_file" ] || return 0
  pending_paths="$nl$(cut -f4 "$pending_file")$nl"
}

# The daemon has just loaded everything on disk: nothing is waiting any more.
settle_pending() {
  [ -f "$pending_file" ] || return 0
  while IFS="$tab" read -r p_had p_inplace p_helper p_target; do
    live_of "$p_target"
    rm -f "$live"
  done < "$pending_file"
  rm -f "$pending_file"
}

# A reload of the waiting files failed: put back every live version (the config the daemon
# runs), re-assemble derived files with each writer's helper, and forget the journal.
restore_pending() {
  restored="live versions restored"
  helpers=''
  while IFS="$tab" read -r p_had p_inplace p_helper p_target; do
    live_of "$p_target"
    p_live=$live
    if [ "$p_had" = 0 ]; then
      rm -f "$p_target" || restored="RESTORE FAILED: could not remove $p_target"
    elif [ "$p_inplace" = 1 ]; then
      if cat "$p_live" > "$p_target" && cmp -s "$p_live" "$p_target"; then
        chown --reference="$p_live" "$p_target" 2>/dev/null || true
        chmod --reference="$p_live" "$p_target" 2>/dev/null || true
        rm -f "$p_live"
      else
        restored="RESTORE FAILED: the live version of $p_target is kept in $p_live"
      fi
    elif ! mv -f "$p_live" "$p_target"; then
      restored="RESTORE FAILED: the live version of $p_target is kept in $p_live"
    fi
    case " $helpers " in *" $p_helper "*) ;; *) helpers="$helpers $p_helper" ;; esac
  done < "$pending_file"
  for h in $helpers; do
    if [ "$h" != - ] && [ -x "$h" ] && ! "$h" assemble >/dev/null 2>&1; then restored="$restored (re-assembling with $h failed)"; fi
  done
  if [ "$has_assemble" = 1 ] && ! (fleet_assemble) >/dev/null 2>&1; then restored="$restored (re-assembling the derived files failed)"; fi
  case $restored in *'RESTORE FAILED'*) ;; *) rm -f "$pending_file" ;; esac
}

take_lock() {
  [ -d "${"$"}{lock_file%/*}" ] || (umask 022 && mkdir -p "${"$"}{lock_file%/*}") || die "cannot create the lock directory of $lock_file on $host"
  exec 9>>"$lock_file"
  flock -w "$lock_timeout" 9 || die "timed out after ${"$"}{lock_timeout}s waiting for $lock_file on $host (another deploy of $service?)"
}

paths() {
  case $target in
    /*/ | / | *'/./'* | *'/../'* | */. | */..) die "refusing target $target: not a plain absolute file path" ;;
    /*) ;;
    *) die "refusing target $target: not an absolute path" ;;
  esac
  dir=${"$"}{target%/*}
  [ -n "$dir" ] || dir=/
  name=${"$"}{target##*/}
  prev="$dir/.$name.fleet-prev"
  # The version from before the first deploy (docs/destroy.md).
  orig="$dir/.$name.fleet-orig"
  # This call's new version, staged before the lock: the process id keeps two calls apart.
  next="$dir/.$name.$$.fleet-new"
}

# The files this call changes, a transaction: one line each, tab-separated: had (0: there
# was no file), in-place, kind (put: written; orig: its version from before the first
# deploy put back; rm: removed), path. Validated together once, put back together on failure.
tx=''
tx_n=0
nl='
'

record() {
  tx="$tx$had$tab$inplace$tab$1$tab$target$nl"
  tx_n=$((tx_n + 1))
}

# Put one file back as it was before this call; sets $restored to what happened. Keeps
# the backup when putting it back fails, and says where it is.
restore_one() {
  case $kind in put) prev_label="previous version" ;; *) prev_label="last deployed version" ;; esac
  if [ "$had" = 0 ]; then
    rm -f "$target"
    restored="new file removed"
  elif [ "$inplace" = 1 ]; then
    if cat "$prev" > "$target" && cmp -s "$prev" "$target"; then
      chown --reference="$prev" "$target" 2>/dev/null || true
      chmod --reference="$prev" "$target" 2>/dev/null || true
      rm -f "$prev"
      restored="$prev_label restored"
    else
      restored="RESTORE FAILED: the $prev_label is kept in $prev"
    fi
  elif mv -f "$prev" "$target"; then
    restored="$prev_label restored"
  else
    restored="RESTORE FAILED: the $prev_label is kept in $prev"
  fi
}

# Put back every file of the transaction, then re-assemble the derived files once; sets
# $restored. Each file is named when there are several, or when $named is 1.
restore_tx() {
  all=''
  n=$(printf '%s' "$tx" | grep -c '^' || true)
  while IFS="$tab" read -r had inplace kind target; do
    [ -n "$target" ] || continue
    paths
    restore_one
    if [ "$n" -gt 1 ] || [ "$named" = 1 ]; then restored="$target: $restored"; fi
    all="$all${"$"}{all:+, }$restored"
  done <<TX
$tx
TX
  restored=$all
  if [ "$has_assemble" = 1 ] && ! (fleet_assemble) >/dev/null 2>&1 </dev/null; then
    restored="$restored (re-assembling the derived files failed)"
  fi
}
named=0

# A file could not be changed: put back the files changed before it (abort_before: it was
# not changed) or with it (abort: it is in the transaction), then fail.
abort() {
  if [ -n "$tx" ]; then restore_tx; die "$1; $restored" "${"$"}{2:-}"; fi
  die "$1" "${"$"}{2:-}"
}
abort_before() {
  named=1
  abort "$1" "${"$"}{2:-}"
}
# Reload the daemon; when that fails, put back what it was reloaded for ($1: restore_tx or
# restore_pending, which set $restored), reload again with the old files and fail naming
# what happened ($2: where and after what; $3: "it" or "them").
reload_or_restore() {
  [ "$has_reload" = 1 ] || return 0
  if out=$( (fleet_reload) 2>&1 ); then return 0; fi
  "$1"
  if again=$( (fleet_reload) 2>&1 ); then
    again="$service reloaded with $3 again"
  else
    out="$out
$again"
    again="reloading $service with $3 failed too"
  fi
  die "reloading $service failed $2; $restored, $again" "$out"
}

# Every file of the transaction is changed: assemble and validate the whole config once,
# then reload (or, with --defer, record each file as waiting for the deploy's reload);
# any failure puts back every file of the transaction and names them.
finish() {
  [ -n "$tx" ] || return 0
  what=''
  did=''
  files=''
  while IFS="$tab" read -r had inplace kind target; do
    [ -n "$target" ] || continue
    case $kind in
      put) w=$target; d="writing $target" ;;
      orig) w="the version of $target from before the first deploy"; d="restoring the version from before the first deploy of $target" ;;
      *) w="the config without $target"; d="removing $target" ;;
    esac
    what="$what${"$"}{what:+ and }$w"
    did="$did${"$"}{did:+ and }$d"
    files="$files${"$"}{files:+ and }$target"
  done <<TX
$tx
TX
  if [ "$has_assemble" = 1 ] && ! out=$( (fleet_assemble) 2>&1 ); then
    restore_tx
    die "assembling the files derived from $files failed on $host after $did; $restored" "$out"
  fi
  if [ "$has_validate" = 1 ] && ! out=$( (fleet_validate) 2>&1 ); then
    restore_tx
    die "$checker refused $what on $host; $restored, $service not reloaded" "$out"
  fi
  waits=0
  if [ "$defer" = 1 ] && [ "$has_reload" = 1 ]; then
    waits=1
  elif [ "$defer" = 0 ]; then
    if [ "$tx_n" -gt 1 ]; then them=them; else them=it; fi
    reload_or_restore restore_tx "after $did on $host" "$them"
    # The daemon loaded every file on disk, including any written with --defer.
    [ "$has_reload" = 0 ] || settle_pending
  fi
  i=0
  [ "$waits" = 0 ] || read_pending
  while IFS="$tab" read -r had inplace kind target; do
    [ -n "$target" ] || continue
    i=$((i + 1))
    paths
    if [ "$waits" = 1 ]; then
      if ! journal_one; then
        tx=$(printf '%s' "$tx" | tail -n "+$i")
        restore_tx
        die "$journal_error; $restored, $service not reloaded"
      fi
      pending="; $service reload pending"
    else
      [ "$had" = 0 ] || rm -f "$prev"
      pending=''
    fi
    case $kind in
      put) echo "fleet: updated $target$pending" ;;
      orig) rm -f "$orig"; echo "fleet: restored $target as it was before the first deploy$pending" ;;
      *) echo "fleet: removed $target$pending" ;;
    esac
  done <<TX
$tx
TX
}

# This file's part of a bundle on stdin (several files of one resource written in one SSH
# session): a header line '#fleet-file BYTES PATH' naming this target, then exactly BYTES
# bytes. 'read' and 'head -c' never read past the part.
read_part() {
  if ! IFS= read -r header; then rm -f "$next"; abort_before "no '#fleet-file' header on stdin for $target on $host; live file untouched"; fi
  bytes=${"$"}{header#'#fleet-file '}
  part=${"$"}{bytes#* }
  bytes=${"$"}{bytes%% *}
  case $header in
    '#fleet-file '[0-9]*' '/*) ;;
    *) rm -f "$next"; abort_before "bad bundle header for $target on $host: '#fleet-file BYTES PATH' expected; live file untouched" ;;
  esac
  case $bytes in *[!0-9]*) rm -f "$next"; abort_before "bad bundle header for $target on $host: '#fleet-file BYTES PATH' expected; live file untouched" ;; esac
  if [ "$part" != "$target" ]; then rm -f "$next"; abort_before "the bundle on stdin holds $part where $target was expected on $host; live file untouched"; fi
  if ! { head -c "$bytes" > "$next" && [ "$(wc -c < "$next")" -eq "$bytes" ]; }; then
    rm -f "$next"
    abort_before "could not write the new version of $target on $host (disk full, or stdin ended early?); live file untouched"
  fi
}

# Several files in one call ('--and' between them): each file's arguments are read by
# $1 (which sets $used, the number it took), then $2 runs for that file.
each_file() {
  parse=$1
  each=$2
  shift 2
  while :; do
    "$parse" "$@"
    shift "$used"
    "$each"
    [ $# -gt 0 ] || break
    shift
    [ $# -gt 0 ] || usage
  done
}

# A path recorded in the transaction or the pending journal: no tab or line break.
# No process: this runs several times per file, partly under the lock.
one_line() {
  case $target in *"$tab"* | *"$nl"*) return 1 ;; esac
}

# One file's arguments of put, up to '--and'. --defer and --bundled are for the whole call.
parse_put() {
  [ $# -ge 1 ] || usage
  target=$1
  used=1
  shift
  owner=''
  mode=''
  inplace=0
  keep_original=0
  while [ $# -gt 0 ] && [ "$1" != --and ]; do
    case $1 in
      --owner) [ $# -ge 2 ] || usage; owner=$2; shift 2; used=$((used + 2)) ;;
      --mode) [ $# -ge 2 ] || usage; mode=$2; shift 2; used=$((used + 2)) ;;
      --in-place) inplace=1; shift; used=$((used + 1)) ;;
      --keep-original) keep_original=1; shift; used=$((used + 1)) ;;
      --defer) defer=1; shift; used=$((used + 1)) ;;
      --bundled) bundled=1; shift; used=$((used + 1)) ;;
      --set) set=1; shift; used=$((used + 1)) ;;
      *) usage ;;
    esac
  done
  case $owner in
    *:*:* | :* | *: | *[!A-Za-z0-9._:-]*) die "bad --owner '$owner': USER:GROUP" ;;
    *:*) ;;
    *) die "bad --owner '$owner': USER:GROUP" ;;
  esac
  case $mode in
    [0-7][0-7][0-7] | [0-7][0-7][0-7][0-7]) ;;
    *) die "bad --mode '$mode': octal, e.g. 0640" ;;
  esac
  paths
  if [ "$defer" = 1 ] && ! one_line; then die "refusing target $target: a tab or line break in a path cannot be recorded for a deferred reload"; fi
  if [ "$set" = 1 ] && ! one_line; then die "refusing target $target: a tab or line break in a path cannot be recorded in a set"; fi
  if { [ $# -gt 0 ] || [ "$tx_n" -gt 0 ] || [ "$checked" = 1 ]; } && ! one_line; then die "refusing target $target: a tab or line break in a path cannot be written with other files"; fi
  checked=1
}
checked=0

# The temp files this call staged and has not swapped in yet, one a line (the paths of a call
# of several files hold no line break; a single file's temp is the whole list): removed on
# every exit, so a failure before the lock or a lock that never comes leaves nothing behind.
staged=''
files_n=0
count_file() { files_n=$((files_n + 1)); }
unstage() {
  [ -n "$staged" ] || return 0
  if [ "$files_n" -le 1 ]; then
    f=${"$"}{staged%"$nl"}
    [ ! -e "$f" ] || rm -f "$f"
    return 0
  fi
  while [ -n "$staged" ]; do
    f=${"$"}{staged%%"$nl"*}
    staged=${"$"}{staged#*"$nl"}
    [ ! -e "$f" ] || rm -f "$f"
  done
}
trap unstage EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# Stage one file of a put before the lock: its new version read (stdin, or its part of the
# bundle, in argument order) into a temp file beside the target, checked, owner and mode set.
# The live file is not read or touched here.
prepare_put() {
  # Parents are created world-readable (daemons must traverse them); the file itself is not.
  [ -d "$dir" ] || (umask 022 && mkdir -p "$dir") || die "cannot create $dir on $host"
  staged="$staged$next$nl"
  if [ "$bundled" = 1 ]; then
    read_part
  elif ! cat > "$next"; then
    rm -f "$next"
    abort_before "could not write the new version of $target on $host (disk full?); live file untouched"
  fi
  if ! { chown "$owner" "$next" && chmod "$mode" "$next"; }; then
    rm -f "$next"
    abort_before "could not set owner $owner and mode $mode on the new version of $target on $host; live file untouched"
  fi
}

# Swap in one staged file of a put (the lock is held): recorded, not validated yet.
stage_put() {
  had=0
  # A resource's first write keeps what it finds, once: an existing record is the
  # version from before the stack and is never overwritten.
  if [ "$keep_original" = 1 ] && [ -e "$target" ] && [ ! -e "$orig" ]; then
    if ! copy_checked "$target" "$orig"; then
      rm -f "$orig"
      abort_before "could not keep the version from before the first deploy of $target on $host (disk full?); live file untouched"
    fi
  fi
  if [ -f "$target" ] && cmp -s "$next" "$target"; then
    # The mode as stat prints it: octal without leading zeros (no process for it).
    m=${"$"}{mode#"${"$"}{mode%%[!0]*}"}
    if [ "$(stat -c '%U:%G %a' "$target")" = "$owner ${"$"}{m:-0}" ]; then
      rm -f "$next"
      echo "fleet: unchanged $target"
      return 0
    fi
  fi
  if [ -e "$target" ]; then
    # When the swap below is a rename, a second name for the live inode is a backup that
    # copies nothing (no room needed on a full disk); it is the old version once the new
    # one is renamed over the target. A copy where a link is refused, and for a file
    # rewritten in place (same inode).
    if ! { { [ "$inplace" = 0 ] && [ -f "$target" ] && [ ! -L "$target" ] && ln -f "$target" "$prev" 2>/dev/null; } || copy_checked "$target" "$prev"; }; then
      rm -f "$prev" "$next"
      abort_before "could not back up $target on $host (disk full?); live file untouched"
    fi
    had=1
  fi
  if [ "$inplace" = 1 ] && [ "$had" = 1 ]; then
    record put
    # Same inode (a bind-mounted file): overwrite the bytes, check them, then owner and mode.
    if ! { cat "$next" > "$target" && cmp -s "$next" "$target" && chown "$owner" "$target" && chmod "$mode" "$target"; }; then
      abort "could not write $target in place on $host (disk full?)"
    fi
    rm -f "$next"
  elif mv -f "$next" "$target"; then
    record put
  else
    rm -f "$prev" "$next"
    abort_before "could not move the new version of $target into place on $host; live file untouched"
  fi
}

# put: every file staged, then under the lock swapped in and the whole config validated once
# with all of them.
cmd_put() {
  bundled=0
  # Every file's arguments are checked before anything is touched.
  each_file parse_put count_file "$@"
  [ "$set" = 0 ] || list_paths "$@"
  checked=0
  each_file parse_put prepare_put "$@"
  # Nothing below reads the content: a validator or reload must not eat what follows on stdin.
  exec </dev/null
  checked=0
  take_lock
  each_file parse_put stage_put "$@"
  [ "$set" = 0 ] || stage_dropped
  finish
  [ "$set" = 0 ] || record_set
}

# The paths of a call's files, one a line, into $set_paths (a --set call: no path holds a
# tab or line break). No process: the set's bookkeeping runs under the lock.
list_paths() {
  set_paths=''
  while [ $# -gt 0 ]; do
    set_paths="$set_paths$1$nl"
    shift
    while [ $# -gt 0 ] && [ "$1" != --and ]; do shift; done
    [ $# -eq 0 ] || shift
  done
  first=${"$"}{set_paths%%"$nl"*}
  record_file="${"$"}{first%/*}/.${"$"}{first##*/}.fleet-set"
}

# --set: the files of the call are one set, recorded beside its first file as
# .NAME.fleet-set. A file the set held before and does not hold now (a file moved to
# another path) is removed in the same transaction: validated with the rest, put back
# with the rest on failure.
stage_dropped() {
  recorded=''
  [ -f "$record_file" ] || return 0
  while IFS= read -r old; do
    [ -n "$old" ] || continue
    recorded="$recorded$old$nl"
    case "$nl$set_paths" in *"$nl$old$nl"*) continue ;; esac
    target=$old
    inplace=0
    keep_without_original=0
    paths
    stage_rm
  done < "$record_file"
}
record_set() {
  [ "$recorded" != "$set_paths" ] || return 0
  if ! { printf '%s' "$set_paths" > "$record_file.new" && mv -f "$record_file.new" "$record_file"; }; then
    rm -f "$record_file.new"
    die "could not record the files of $first on $host in $record_file (disk full?); the files are in place, a later move of one of them leaves the old one behind"
  fi
}
set=0

# Record a file written with --defer as waiting for the reload: the version the daemon runs
# is kept once (the first deferred write of a file since the last reload), for the reload
# to put back if it fails. Fails setting $journal_error.
journal_one() {
  case $pending_paths in
    *"$nl$target$nl"*)
      [ "$had" = 0 ] || rm -f "$prev"
      return 0
      ;;
  esac
  live_of "$target"
  if [ "$had" = 1 ] && ! mv -f "$prev" "$live"; then
    journal_error="could not keep the live version of $target on $host (disk full?)"
    return 1
  fi
  if ! printf '%s\t%s\t%s\t%s\n' "$had" "$inplace" "$self" "$target" >> "$pending_file"; then
    if [ "$had" = 1 ]; then mv -f "$live" "$prev" || true; fi
    journal_error="could not record $target as waiting for a $service reload on $host (disk full?)"
    return 1
  fi
  pending_paths="$pending_paths$target$nl"
}
# The one reload of a deploy: everything written with --defer since the last reload goes
# live at once. Nothing waiting: nothing to do (another deploy's reload already did it).
cmd_reload() {
  [ $# -eq 0 ] || usage
  take_lock
  rm -f "$held_file"
  if [ ! -s "$pending_file" ]; then
    rm -f "$pending_file"
    echo "fleet: nothing waiting for a $service reload on $host"
    exit 0
  fi
  waiting=$(cut -f4 "$pending_file" | tr '\n' ' ' | sed 's/ $//')
  if [ "$has_validate" = 1 ] && ! out=$( (fleet_validate) 2>&1 ); then
    restore_pending
    die "$checker refused the config waiting for a $service reload on $host ($waiting); $restored, $service not reloaded" "$out"
  fi
  reload_or_restore restore_pending "on $host after writing $waiting" them
  settle_pending
  echo "fleet: reloaded $service on $host for $waiting"
}

# The daemon's reload resource is being deleted (a destroy, or every file of the daemon
# removed): the removals that follow wait for one reload, the last one's ('reload').
cmd_hold() {
  [ $# -eq 0 ] || usage
  take_lock
  : > "$held_file" || die "could not hold $service reloads on $host (disk full?)"
  echo "fleet: $service reloads on $host held for the removals that follow"
}

# One file's arguments of rm, up to '--and'. --defer is for the whole call.
parse_rm() {
  [ $# -ge 1 ] || usage
  target=$1
  used=1
  shift
  inplace=0
  keep_without_original=0
  while [ $# -gt 0 ] && [ "$1" != --and ]; do
    case $1 in
      --in-place) inplace=1; shift; used=$((used + 1)) ;;
      --keep-without-original) keep_without_original=1; shift; used=$((used + 1)) ;;
      --defer) [ "$immediate" = 1 ] || defer=1; shift; used=$((used + 1)) ;;
      --set) set=1; shift; used=$((used + 1)) ;;
      *) usage ;;
    esac
  done
  paths
  # A path the pending journal cannot hold is removed with an immediate reload.
  one_line || tabbed=1
  if { [ $# -gt 0 ] || [ "$tx_n" -gt 0 ] || [ "$checked" = 1 ]; } && ! one_line; then die "refusing target $target: a tab or line break in a path cannot be removed with other files"; fi
  checked=1
}
tabbed=0
immediate=0

# Take one file of an rm back (the lock is held): recorded, not validated yet.
stage_rm() {
  if [ ! -e "$target" ] && [ ! -e "$orig" ]; then
    echo "fleet: already absent $target"
    return 0
  fi
  if [ "$keep_without_original" = 1 ] && [ ! -e "$orig" ]; then
    echo "fleet: kept $target as last deployed: the daemon needs it and there is no version from before the first deploy to restore"
    return 0
  fi
  had=0
  if [ -e "$target" ]; then
    if ! copy_checked "$target" "$prev"; then
      rm -f "$prev"
      abort_before "could not back up $target on $host before removing it (disk full?); file left in place"
    fi
    had=1
  fi
  if [ -e "$orig" ]; then
    record orig
    # Put back the version from before the first deploy (same inode for a bind-mounted file).
    if [ "$inplace" = 1 ] && [ "$had" = 1 ]; then
      put_back() { cat "$orig" > "$target" && cmp -s "$orig" "$target" && chown --reference="$orig" "$target" && chmod --reference="$orig" "$target"; }
    else
      put_back() { rm -f "$target" && copy_checked "$orig" "$target"; }
    fi
    if ! put_back; then
      abort "could not put back the version from before the first deploy of $target on $host (disk full?)"
    fi
  elif rm -f "$target"; then
    record rm
  else
    rm -f "$prev"
    abort_before "could not remove $target on $host"
  fi
}

# rm: every file taken back, then the whole config validated once without them.
cmd_rm() {
  each_file parse_rm : "$@"
  checked=0
  take_lock
  # Deferred only while reloads are held (a destroy); otherwise it reloads at once, as before.
  if [ "$defer" = 1 ] && { [ "$has_reload" = 0 ] || [ ! -e "$held_file" ] || [ "$tabbed" = 1 ]; }; then
    defer=0
    immediate=1
  fi
  each_file parse_rm stage_rm "$@"
  exec </dev/null
  finish
  # The set is gone with its files: forget what it held.
  if [ "$set" = 1 ]; then each_file parse_rm forget_set "$@"; fi
}
forget_set() { rm -f "$dir/.$name.fleet-set"; }

[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
  put) cmd_put "$@" ;;
  rm) cmd_rm "$@" ;;
  reload) cmd_reload "$@" ;;
  hold) cmd_hold "$@" ;;
  # Internal: a reload that failed re-assembles with each writer's helper (the lock is held).
  assemble) if [ "$has_assemble" = 1 ]; then (fleet_assemble); fi ;;
  *) usage ;;
esac
`;

/** The helper for one host and service profile. Pure: the same profile gives the same text, hash and name. */
export function fileHelper(profile: HelperProfile): FileHelper {
  const { daemon } = profile;
  const service = daemon.service ?? daemon.lock;
  const checker = daemon.checker ?? `the ${service} validator`;
  const timeout = profile.lockTimeoutSeconds ?? 300;
  if (!Number.isInteger(timeout) || timeout <= 0) throw new Error(`lock timeout must be a positive whole number of seconds, got ${timeout}`);
  const text = [
    "#!/bin/sh",
    `# pulumi-fleet file helper: ${service} on ${profile.host}. Installed once per host, named by the`,
    "# sha256 of this text, never edited. Usage:",
    "#   <helper> put PATH --owner USER:GROUP --mode MODE [--in-place] [--bundled] [--and PATH ...] < content",
    "#   <helper> rm PATH [--and PATH ...]",
    "# Several files (--and) are one transaction: the whole config is validated once with all of",
    "# them, and all are put back when it is refused.",
    "#   <helper> reload   (the one reload of a deploy, after its put --defer)",
    "#   <helper> hold     (a destroy: rm --defer waits for the reload after the last removal)",
    "set -eu",
    "umask 077",
    `host=${sh(profile.host)}`,
    `service=${sh(service)}`,
    `checker=${sh(checker)}`,
    `lock_file=${sh(`${profile.lockDir.replace(/\/+$/, "")}/fleet-${daemon.lock}.lock`)}`,
    `lock_timeout=${timeout}`,
    `has_assemble=${profile.assemble ? 1 : 0}`,
    `has_validate=${daemon.validate ? 1 : 0}`,
    `has_reload=${daemon.reload ? 1 : 0}`,
    "# Each step runs in a subshell: an `exit` in it ends the step, not the helper.",
    fn("fleet_assemble", profile.assemble),
    fn("fleet_validate", daemon.validate),
    fn("fleet_reload", daemon.reload),
  ].join("\n") + ENGINE;
  const hash = sha256(text);
  const name = `fleet-${slug(service)}-${hash.slice(0, 12)}`;
  const helper = { name, path: `${HELPER_DIR}/${name}`, text, sha256: hash };
  known.set(helper.path, helper);
  return helper;
}

/** Helpers built in this process, by path. Content-addressed, so a path always means the same text. */
const known = new Map<string, FileHelper>();

/**
 * The helper installed at `path`, if this process built it: for review and tests (run a
 * file command locally, read the validator a file goes through). Read-only bookkeeping.
 */
export function helperAt(path: string): FileHelper | undefined {
  return known.get(path);
}

export interface PutArgs {
  readonly path: string;
  readonly owner: string;
  readonly group: string;
  /** Octal, e.g. "0640". */
  readonly mode: string;
  readonly inPlace?: boolean;
  readonly keepWithoutOriginal?: boolean;
}

/**
 * Arguments of `put` after the helper's path: the file, its owner and mode, all quoted;
 * `--keep-original` on a resource's first write (docs/destroy.md). Several files are one
 * transaction (`--and` between them): all written, the whole config validated once, all
 * put back when it is refused.
 */
export function putArgs(target: PutArgs | readonly PutArgs[], keepOriginal = false, defer = false, bundled = false, set = false): string {
  const targets: readonly PutArgs[] = Array.isArray(target) ? target : [target as PutArgs];
  const one = (t: PutArgs) =>
    `${sh(t.path)} --owner ${sh(`${t.owner}:${t.group}`)} --mode ${sh(t.mode)}${t.inPlace ? " --in-place" : ""}${keepOriginal ? " --keep-original" : ""}${defer ? " --defer" : ""}${bundled ? " --bundled" : ""}${set ? " --set" : ""}`;
  return `put ${targets.map(one).join(" --and ")}`;
}

/** One file's part of a bundle on stdin (`put --bundled`): its header line, then its bytes. */
export function bundlePart(path: string, content: string): string {
  return `#fleet-file ${Buffer.byteLength(content, "utf8")} ${path}\n${content}`;
}

/**
 * Arguments of `rm` after the helper's path; `--defer` waits for the reload after the last
 * removal while reloads are held (a destroy), and reloads at once otherwise. Several files
 * are one transaction, as with `putArgs`.
 */
export function rmArgs(target: RmArgs | readonly RmArgs[], defer = false, set = false): string {
  const targets: readonly RmArgs[] = Array.isArray(target) ? target : [target as RmArgs];
  const one = (t: RmArgs) => `${sh(t.path)}${t.inPlace ? " --in-place" : ""}${t.keepWithoutOriginal ? " --keep-without-original" : ""}${defer ? " --defer" : ""}${set ? " --set" : ""}`;
  return `rm ${targets.map(one).join(" --and ")}`;
}

type RmArgs = Pick<PutArgs, "path" | "inPlace" | "keepWithoutOriginal">;

/** `sudo -n ` for non-root logins. */
export function sudoPrefix(ctx: { readonly sudo: boolean }): string {
  return ctx.sudo ? "sudo -n " : "";
}

/**
 * What the installer sends on stdin: the helper's text gzipped (level 9, no name or time
 * in the header) and base64-encoded, a third of the text's size. The text is stored again
 * as an input and an output of the installer in the state, which the engine rewrites after
 * every step of a deploy (issue 15: a quarter of a 30-app state was the helpers' text).
 * The same text gives the same bytes (Node's bundled zlib; Node 20 and 22 agree), so an
 * unchanged program previews empty. The preview still names a new helper (the
 * installer's name and its create line carry the text's sha256); `helperAt(path)` and the
 * file on the host are the readable text.
 */
export function installerStdin(helper: FileHelper): string {
  return gzipSync(Buffer.from(helper.text, "utf8"), { level: 9 }).toString("base64");
}

/**
 * The installer's script: the helper's text arrives on stdin (`installerStdin`: gzip,
 * base64) and is checked against its sha256 before it becomes executable under its
 * content-addressed name. Already there with the right bytes: nothing is written, stdin
 * is not read. Never edits a helper in place.
 */
export function installHelperScript(helper: FileHelper): string {
  return [
    "set -eu",
    "umask 022",
    `f=${sh(helper.path)}; want=${sh(`${helper.sha256}  -`)}; tmp="$f.new.$$"`,
    `if [ -x "$f" ] && [ "$(sha256sum < "$f")" = "$want" ]; then echo "fleet: helper $f already installed"; exit 0; fi`,
    `mkdir -p ${sh(HELPER_DIR)}`,
    `if ! base64 -d | gzip -dc > "$tmp" || [ "$(sha256sum < "$tmp")" != "$want" ]; then rm -f "$tmp"; echo "fleet: could not write helper $f (disk full, or no base64 or gzip on the host?)" >&2; exit 1; fi`,
    `chmod 0755 "$tmp" && mv -f "$tmp" "$f" || { rm -f "$tmp"; echo "fleet: could not install helper $f" >&2; exit 1; }`,
    `echo "fleet: installed helper $f"`,
  ].join("\n");
}
