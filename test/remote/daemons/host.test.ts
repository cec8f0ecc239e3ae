/**
 * The host daemons' validate commands, run through /bin/sh against Debian's real binaries
 * (scripts/ci-deps.sh installs them) on files in a temp dir.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { haproxyCheck } from "../../../src/remote/daemons";
import { runShell } from "../../helpers/spawn";

let dir: string;
let paths: { config: string; fragments: string };

const MAIN = ["global", "    stats timeout 30s", "defaults", "    mode http", "    timeout connect 5s", "    timeout client 30s", "    timeout server 30s", "frontend http", "    bind 127.0.0.1:18080", "    default_backend app", ""].join("\n");
const BACKEND = ["backend app", "    server puck 127.0.0.1:8080", ""].join("\n");

/**
 * A `haproxy` first on PATH that logs each call (arguments, then what came on stdin when
 * it read `/dev/stdin`, its lines joined by `/`) and runs `real`.
 */
function logged(real: string): { env: NodeJS.ProcessEnv; calls: () => string[] } {
  const bin = path.join(dir, "bin");
  mkdirSync(bin);
  const log = path.join(dir, "calls");
  writeFileSync(log, "");
  writeFileSync(
    path.join(bin, "haproxy"),
    [
      "#!/bin/bash",
      `case " $* " in *" /dev/stdin "*) in=$(cat); printf '%s|%s\\n' "$*" "$(printf '%s' "$in" | tr '\\n' '/')" >> ${log}; printf '%s\\n' "$in" | ${real} "$@"; exit $? ;; esac`,
      `printf '%s|\\n' "$*" >> ${log}`,
      `exec ${real} "$@"`,
      "",
    ].join("\n"),
  );
  chmodSync(path.join(bin, "haproxy"), 0o755);
  return { env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}` }, calls: () => readFileSync(log, "utf8").split("\n").filter(Boolean) };
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "fleet-haproxy-check-"));
  paths = { config: path.join(dir, "haproxy.cfg"), fragments: path.join(dir, "conf.d") };
  mkdirSync(paths.fragments);
  writeFileSync(paths.config, MAIN);
  writeFileSync(path.join(paths.fragments, "app.cfg"), BACKEND);
});

describe("haproxyCheck", () => {
  it("accepts a valid config with one call of the real haproxy, the one that skips the HTTP client's system CA store", async () => {
    const shim = logged("/usr/sbin/haproxy");
    const r = await runShell(haproxyCheck(paths), { env: shim.env });
    expect(r.code, r.stderr).toBe(0);
    expect(shim.calls()).toEqual([`-c -f ${paths.config} -f ${paths.fragments} -f /dev/stdin|global/    httpclient.ssl.verify none`]);
  });

  it("refuses a fragment HAProxy refuses, with the plain check's own lines about the real files", async () => {
    writeFileSync(path.join(paths.fragments, "bad.cfg"), "backend bad\n    frobnicate on\n");
    const shim = logged("/usr/sbin/haproxy");
    const r = await runShell(haproxyCheck(paths), { env: shim.env });
    expect(r.code).not.toBe(0);
    const out = r.stdout + r.stderr;
    expect(out).toMatch(/\[ALERT\].*bad\.cfg:2\] : unknown keyword 'frobnicate'/);
    expect(out).not.toContain("/dev/stdin");
    expect(shim.calls()).toEqual([`-c -f ${paths.config} -f ${paths.fragments} -f /dev/stdin|global/    httpclient.ssl.verify none`, `-c -f ${paths.config} -f ${paths.fragments}|`]);
  });

  it("a HAProxy without the keyword (before 2.5) gets the plain check, whose verdict counts", async () => {
    // Stands in for an older haproxy: it refuses the extra global line, else runs the real one.
    const old = path.join(dir, "old-haproxy");
    writeFileSync(old, ["#!/bin/bash", `if grep -q httpclient; then echo "[ALERT] config : parsing [/dev/stdin:2] : unknown keyword 'httpclient.ssl.verify' in 'global' section" >&2; exit 1; fi < /dev/stdin`, `exec /usr/sbin/haproxy "$@"`, ""].join("\n"));
    chmodSync(old, 0o755);
    const shim = logged(old);
    const r = await runShell(haproxyCheck(paths), { env: shim.env });
    expect(r.code, r.stderr).toBe(0);
    expect(shim.calls()).toHaveLength(2);
  });
});
