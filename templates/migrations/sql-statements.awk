# Managed by pulumi-fleet. The statements of one SQL migration file, split the way psql
# splits them (psqlscan.l): `--` and nested `/* */` comments, '...' with '' (and E'...'
# with backslash escapes), "..." identifiers, $tag$...$tag$ bodies, and the BEGIN/CASE ...
# END nesting of SQL-standard CREATE FUNCTION/PROCEDURE bodies (BEGIN ATOMIC).
#
# mode=check prints one line per statement: LINE<TAB>KIND<TAB>FIRST WORDS, where LINE is
# the line the statement starts on and KIND is
#   sql     an ordinary statement
#   begin   BEGIN / START TRANSACTION
#   commit  COMMIT / END
#   txctl   any other statement that ends or splits the transaction (ROLLBACK, ABORT,
#           PREPARE TRANSACTION)
#   notx    a statement PostgreSQL refuses inside a transaction block (VACUUM,
#           CREATE INDEX CONCURRENTLY, ALTER SYSTEM, CREATE DATABASE, ...)
#   copyin  COPY ... FROM STDIN (its data would follow in the file, read by psql)
#   meta    a psql backslash command (\connect, \set, \i, \!, ...), outside any quote
# mode=emit prints the file with the statements numbered in `drop` (" 1 7 ", counting
# the statements check prints, from 1) replaced by their line breaks only, so every
# other line keeps its number.

{ src = src $0 "\n" }

END {
  n = length(src); i = 1; line = 1; nstmt = 0
  raw = ""; sig = ""; at = 0; depth = 0; prev = ""
  while (i <= n) {
    c = substr(src, i, 1)
    c2 = substr(src, i, 2)
    if (c2 == "--") {
      k = i; while (k <= n && substr(src, k, 1) != "\n") k++
      take(k - i); continue
    }
    if (c2 == "/*") {
      d = 1; k = i + 2
      while (k <= n && d > 0) {
        t = substr(src, k, 2)
        if (t == "/*") { d++; k += 2 } else if (t == "*/") { d--; k += 2 } else k++
      }
      take(k - i); sig = sig " "; if (at) disp = disp " "; prev = " "; continue
    }
    if (c == "'") {
      esc = (prev == "E" || prev == "e") && !ident(substr(src, i - 2, 1))
      k = i + 1
      while (k <= n) {
        t = substr(src, k, 1)
        if (esc && t == "\\") { k += 2; continue }
        if (t == "'") { if (substr(src, k + 1, 1) == "'") { k += 2; continue } k++; break }
        k++
      }
      start(); disp = disp substr(src, i, k - i); take(k - i); sig = sig " '' "; prev = "'"; continue
    }
    if (c == "\"") {
      k = i + 1
      while (k <= n) {
        t = substr(src, k, 1)
        if (t == "\"") { if (substr(src, k + 1, 1) == "\"") { k += 2; continue } k++; break }
        k++
      }
      start(); disp = disp substr(src, i, k - i); take(k - i); sig = sig " \"\" "; prev = "\""; continue
    }
    if (c == "$" && !ident(prev) && match(substr(src, i, 130), /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/)) {
      tag = substr(src, i, RLENGTH)
      rest = substr(src, i + RLENGTH)
      p = index(rest, tag)
      start()
      if (p == 0) take(n - i + 1); else take(RLENGTH + p - 1 + length(tag))
      sig = sig " $$ "; disp = disp tag "..." tag; prev = "$"; continue
    }
    if (c == "\\") {
      # psql runs it at once, whatever statement it interrupts: report it on its own.
      k = i; while (k <= n && substr(src, k, 1) != "\n") k++
      if (mode == "check") printf "%d\tmeta\t%s\n", line, clip(substr(src, i, k - i))
      take(k - i); continue
    }
    if (c == ";" && depth == 0) { take(1); finish(); continue }
    if (c ~ /[A-Za-z_]/) {
      match(substr(src, i, 200), /^[A-Za-z_][A-Za-z0-9_$]*/)
      w = toupper(substr(src, i, RLENGTH))
      wl = substr(src, i + RLENGTH - 1, 1)
      start()
      nw++
      if (nw <= 4) words[nw] = w
      if (nw >= 2 && (words[2] == "FUNCTION" || words[2] == "PROCEDURE" || (words[2] == "OR" && (words[4] == "FUNCTION" || words[4] == "PROCEDURE"))) && words[1] == "CREATE") {
        if (w == "BEGIN" || w == "CASE") depth++
        else if (w == "END" && depth > 0) depth--
      }
      sig = sig " " w; disp = disp substr(src, i, RLENGTH)
      take(RLENGTH); prev = wl; continue
    }
    if (c ~ /[0-9]/) {
      match(substr(src, i, 200), /^[0-9][0-9.]*/)
      start(); sig = sig " " substr(src, i, RLENGTH); disp = disp substr(src, i, RLENGTH); take(RLENGTH); prev = "0"; continue
    }
    if (c !~ /[ \t\r\n\f]/) { start(); sig = sig " " c; disp = disp c; prev = c } else { prev = " "; if (at) disp = disp " " }
    take(1)
  }
  finish()
}

function clip(t) {
  gsub(/[ \t\r\n\f]+/, " ", t); sub(/^ /, "", t); sub(/ $/, "", t)
  return length(t) > 60 ? substr(t, 1, 57) "..." : t
}

function ident(ch) { return ch ~ /^[A-Za-z0-9_$]$/ }

function start() { if (!at) at = line }

function take(k,   s, m) {
  s = substr(src, i, k)
  raw = raw s
  m = gsub(/\n/, "\n", s)
  line += m
  i += k
}

function kind(s) {
  if (s ~ /^(BEGIN|START TRANSACTION)( |$)/) return "begin"
  if (s ~ /^(COMMIT|ROLLBACK) PREPARED( |$)/) return "notx"
  if (s ~ /^(COMMIT|END)( |$)/) return "commit"
  if (s ~ /^ROLLBACK TO( |$)/) return "sql"
  if (s ~ /^(ROLLBACK|ABORT|PREPARE TRANSACTION)( |$)/) return "txctl"
  if (s ~ /^VACUUM( |$)/ || s ~ /^(CREATE|DROP) (DATABASE|TABLESPACE|SUBSCRIPTION)( |$)/ || s ~ /^ALTER (SYSTEM|SUBSCRIPTION)( |$)/) return "notx"
  if (s ~ /^CREATE (UNIQUE )?INDEX CONCURRENTLY( |$)/ || s ~ /^DROP INDEX CONCURRENTLY( |$)/) return "notx"
  if (s ~ /^REINDEX( |$)/ && s ~ / (CONCURRENTLY|DATABASE|SYSTEM)( |$)/) return "notx"
  if (s ~ /^ALTER DATABASE / && s ~ / SET TABLESPACE( |$)/) return "notx"
  if (s ~ /^DISCARD ALL( |$)/ || s ~ /^CLUSTER$/) return "notx"
  if (s ~ /^COPY / && s ~ / FROM STDIN( |$)/) return "copyin"
  return "sql"
}

function finish(   s, k, r) {
  s = sig
  gsub(/[ \t]+/, " ", s); sub(/^ /, "", s); sub(/ $/, "", s)
  if (s != "") {
    nstmt++
    if (mode == "check") printf "%d\t%s\t%s\n", at, kind(s), clip(disp)
  }
  if (mode == "emit") {
    r = raw
    if (s != "" && index(drop, " " nstmt " ")) gsub(/[^\n]/, "", r)
    printf "%s", r
  }
  raw = ""; sig = ""; disp = ""; at = 0; depth = 0; nw = 0
  split("", words)
}
