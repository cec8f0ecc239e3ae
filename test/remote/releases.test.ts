/**
 * The release layout (src/remote/releases.ts), run for real with `sh`: a local origin
 * repository, the library's own checkout into `<root>/repo`, the release step, and the
 * activation against a stand-in service on loopback (python's http.server, started by
 * the restart command in `current` as systemd starts a unit in its WorkingDirectory, so
 * it serves the release it was started in until the next restart). Each claim is proved
 * by a request to the service: a v2 whose health fails leaves v1 serving.
 */
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { healthCheckSchema } from "../../src/components/health/args";
import { healthCheckScript } from "../../src/components/health/render";
import { gitCheckoutScript } from "../../src/remote/checkout";
import { sh } from "../../src/remote/quote";
import { type ReleaseLayout, ROLLBACK_NOTE, releaseActivateScript, releaseCreateScript, releaseLines } from "../../src/remote/releases";
import { daedalusMigrateScript } from "../../stacks/ouranos/daedalus";
import { git } from "../helpers/git";
import { freePort } from "../helpers/net";
import { runTool } from "../helpers/validators";

const work = mkdtempSync(path.join(tmpdir(), "fleet-releases-"));
const pidFiles: string[] = [];
afterAll(() => {
  for (const f of pidFiles) {
    if (!existsSync(f)) continue;
    const pid = Number(readFileSync(f, "utf8").trim());
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
  rmSync(work, { recursive: true, force: true });
});

/** An origin repository whose commits are the app's versions. */
function origin(name: string) {
  const dir = path.join(work, name);
  git(work, "init", "-q", dir);
  return {
    url: `file://${dir}`,
    commit(files: Record<string, string>, tag: string): string {
      for (const [p, text] of Object.entries(files)) {
        mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
        writeFileSync(path.join(dir, p), text);
      }
      git(dir, "add", ".");
      git(dir, "commit", "-q", "-m", tag);
      git(dir, "tag", tag);
      return git(dir, "rev-parse", "HEAD");
    },
  };
}

function sh0(script: string) {
  return runTool("sh", ["-c", script], { env: { ...process.env, GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1" } });
}

/** An app root with the stand-in service on a loopback port. */
async function app(name: string, keep = 3) {
  const root = path.join(work, name, "srv");
  mkdirSync(root, { recursive: true });
  const port = await freePort();
  const pidFile = path.join(work, name, "service.pid");
  pidFiles.push(pidFile);
  const layout: ReleaseLayout = { root, repository: `${root}/repo`, keep, legacy: { parts: ["backend", "frontend", "venv"] } };
  // The unit's restart: stop the running process and wait until it is gone, start a new one
  // in current/ (resolved now) and wait until it listens, as a notify-type unit's restart
  // returns once the service is up. So the checks need no retry delay: an unhealthy release
  // fails its attempts at once instead of after seconds of sleeping (the file's wall time).
  // "Gone" includes a zombie: the stand-in's parent shell has exited, so the dead process
  // waits for PID 1 to reap it (here every ≈ 2 s) while `kill -0` still succeeds; its
  // socket is already closed. Waiting for the reaping cost ≈ 2 s per restart.
  const listening = `i=0; until curl -s -o /dev/null http://127.0.0.1:${port}/; do i=$((i+1)); [ "$i" -lt 400 ] || break; sleep 0.05; done`;
  const gone = `{ st=$(cat "/proc/$old/stat" 2>/dev/null) || break; case "$st" in *") Z "*) break ;; esac; }`;
  const restart = [
    `{ if [ -f ${sh(pidFile)} ]; then old=$(cat ${sh(pidFile)}); kill "$old" 2>/dev/null || true; i=0; while [ "$i" -lt 400 ]; do ${gone}; i=$((i+1)); sleep 0.05; done; fi`,
    `cd ${sh(`${root}/current/backend`)} && { python3 -m http.server ${port} --bind 127.0.0.1 >/dev/null 2>&1 </dev/null & echo $! > ${sh(pidFile)}; }; ${listening}; cd ${sh(root)}; }`,
  ].join("; ");
  const health = healthCheckScript(healthCheckSchema.parse({ url: `http://127.0.0.1:${port}/api/health`, bodyMatch: '"status": ?"ok"', attempts: 4, initialDelaySeconds: 0, maxDelaySeconds: 1, description: "stand-in /api/health" }));
  const build = [...releaseLines(layout), `cd "$release"`, `cp backend/api/health.json backend/api/health`].join("\n");
  return {
    root,
    layout,
    deploy(url: string, ref: string) {
      const checkout = sh0(`set -eu\n${gitCheckoutScript({ url, ref, directory: layout.repository, directoryMode: "0750" })}`);
      if (checkout.code !== 0) throw new Error(checkout.output);
      const created = sh0(releaseCreateScript(layout));
      if (created.code !== 0) return { stage: "create", ...created };
      const built = sh0(build);
      if (built.code !== 0) return { stage: "build", code: built.code, output: created.output + built.output };
      // The unit's own restart on a new revision (SystemdUnit), through current as it is.
      const unit = sh0(restart);
      if (unit.code !== 0) throw new Error(unit.output);
      const activated = sh0(releaseActivateScript(layout, { app: "Daedalus", hostName: "puck", restart, checks: [{ name: "health", body: health }] }));
      return { stage: "activate", code: activated.code, output: created.output + activated.output };
    },
    async serving(): Promise<string> {
      return (await fetch(`http://127.0.0.1:${port}/api/health`)).text();
    },
    current: () => readlinkSync(path.join(root, "current")),
    releases: () => readdirSync(path.join(root, "releases")).filter((d) => !d.startsWith(".")).sort(),
  };
}

const ok = (v: string) => ({ "backend/api/health.json": `{"status": "ok", "version": "${v}"}\n` });
const broken = (v: string) => ({ "backend/api/health.json": `{"status": "error", "version": "${v}"}\n` });

describe("releases: build beside the live one, swap current, roll back on a failed check", () => {
  it("v1 goes live; a v2 whose health fails is swapped back and v1 serves (proved by a request); v3 goes live and the failed v2 is pruned", async () => {
    const o = origin("daedalus-origin");
    const a = await app("one", 2);
    const v1 = o.commit(ok("v1"), "v1");

    const first = a.deploy(o.url, "v1");
    expect(first).toMatchObject({ stage: "activate", code: 0 });
    expect(first.output).toContain(`fleet: Daedalus: release ${v1.slice(0, 12)} is live and healthy on puck`);
    expect(a.current()).toBe(`releases/${v1.slice(0, 12)}`);
    expect(await a.serving()).toBe('{"status": "ok", "version": "v1"}\n');
    // The export holds the tree at the commit, not the repository.
    expect(existsSync(path.join(a.root, "releases", v1.slice(0, 12), ".git"))).toBe(false);

    const v2 = o.commit(broken("v2"), "v2");
    const second = a.deploy(o.url, "v2");
    expect(second.stage).toBe("activate");
    expect(second.code).toBe(1);
    expect(second.output).toContain(`fleet: check health failed on puck: release ${v2.slice(0, 12)} of Daedalus is not healthy`);
    expect(second.output).toContain(`fleet: Daedalus: rolled back: current -> release ${v1.slice(0, 12)} again, restarted; release ${v1.slice(0, 12)} serves`);
    expect(a.current()).toBe(`releases/${v1.slice(0, 12)}`);
    expect(await a.serving()).toBe('{"status": "ok", "version": "v1"}\n');

    const v3 = o.commit(ok("v3"), "v3");
    const third = a.deploy(o.url, "v3");
    expect(third).toMatchObject({ stage: "activate", code: 0 });
    expect(await a.serving()).toBe('{"status": "ok", "version": "v3"}\n');
    // keep 2: the live v3 and the previous v1; the failed v2 is pruned.
    expect(third.output).toContain(`fleet: pruned release ${v2.slice(0, 12)}\n`);
    expect(a.releases()).toEqual([v1.slice(0, 12), v3.slice(0, 12)].sort());
  });

  it("a failed activation prints the release's rollback note (what its migrations left in the database)", async () => {
    const o = origin("noted-origin");
    const a = await app("noted");
    o.commit(ok("v1"), "v1");
    expect(a.deploy(o.url, "v1")).toMatchObject({ code: 0 });
    const v2 = o.commit(broken("v2"), "v2");
    // Daedalus's migrate step, run in the new release with a stand-in alembic whose database
    // is a file: at 0001 before, 0002 after `upgrade head`.
    const pre = sh0(`set -eu\n${gitCheckoutScript({ url: o.url, ref: "v2", directory: a.layout.repository })}\n${releaseCreateScript(a.layout)}`);
    expect(pre.code).toBe(0);
    const rel = path.join(a.root, "releases", v2.slice(0, 12));
    const db = path.join(a.root, "db-revision");
    writeFileSync(db, "0001\n");
    writeFileSync(path.join(a.root, ".env"), `DAEDALUS_DB='${db}'\n`);
    mkdirSync(path.join(rel, "venv", "bin"), { recursive: true });
    writeFileSync(
      path.join(rel, "venv", "bin", "alembic"),
      ["#!/bin/sh", 'case "$1" in', '  current) echo "INFO [alembic] Context impl." >&2; echo "$(cat "$DAEDALUS_DB") (head)" ;;', '  upgrade) echo 0002 > "$DAEDALUS_DB" ;;', "esac", ""].join("\n"),
      { mode: 0o755 },
    );
    const migrated = sh0(daedalusMigrateScript(a.layout));
    expect(migrated).toEqual({ code: 0, output: "" });
    const note = `fleet: the database stays at alembic revision 0002 (migrations are not undone by a rollback; before this release it was at 0001). If the restored release cannot run on it: cd ${rel}/backend && set -a && . ${a.root}/.env && set +a && ../venv/bin/alembic downgrade 0001 (docs/runbook-ouranos.md, Daedalus releases)\n`;
    expect(readFileSync(path.join(rel, ROLLBACK_NOTE), "utf8")).toBe(note);
    // Run again (the .env changed, say): nothing moved, the note stays.
    expect(sh0(daedalusMigrateScript(a.layout)).code).toBe(0);
    expect(readFileSync(path.join(rel, ROLLBACK_NOTE), "utf8")).toBe(note);

    const r = a.deploy(o.url, "v2");
    expect(r.code).toBe(1);
    expect(r.output.endsWith(note)).toBe(true);
    expect(await a.serving()).toBe('{"status": "ok", "version": "v1"}\n');
  });

  it("a first release that is not healthy has nothing to go back to and says so", async () => {
    const o = origin("bad-first-origin");
    const a = await app("bad-first");
    const v1 = o.commit(broken("v1"), "v1");
    const r = a.deploy(o.url, "v1");
    expect(r.code).toBe(1);
    expect(r.output).toContain(`fleet: first release ${v1.slice(0, 12)}; current points at it`);
    expect(r.output).toContain(`fleet: check health failed on puck: release ${v1.slice(0, 12)} of Daedalus is the live one; there is no other release to go back to`);
  });

  it("adopts an in-place deployment (git tree in the root) as release <commit12>-inplace, then a failed new release goes back to it", async () => {
    const o = origin("legacy-origin");
    const v1 = o.commit(ok("v1"), "v1");
    const a = await app("legacy");
    // The old layout: the checkout is the root itself, the built parts beside the tracked ones.
    const old = sh0(`set -eu\n${gitCheckoutScript({ url: o.url, ref: "v1", directory: a.root })}\ncp backend/api/health.json backend/api/health\nmkdir -p venv frontend`);
    expect(old.code).toBe(0);
    const v2 = o.commit(broken("v2"), "v2");
    const r = a.deploy(o.url, "v2");
    const adopted = `${v1.slice(0, 12)}-inplace`;
    expect(r.output).toContain(`fleet: adopted the in-place deployment in ${a.root} (commit ${v1.slice(0, 12)}) as release ${adopted}; current points at it until release ${v2.slice(0, 12)} is activated`);
    expect(r.code).toBe(1);
    expect(r.output).toContain(`rolled back: current -> release ${adopted} again`);
    expect(a.current()).toBe(`releases/${adopted}`);
    for (const p of ["backend", "frontend", "venv"]) expect(readlinkSync(path.join(a.root, "releases", adopted, p))).toBe(path.join(a.root, p));
    // The adopted release's parts are the in-place ones: the service answers from them.
    expect(lstatSync(path.join(a.root, "releases", adopted)).isDirectory()).toBe(true);
    expect(await a.serving()).toBe('{"status": "ok", "version": "v1"}\n');
    expect(a.releases()).toEqual([adopted, v2.slice(0, 12)].sort());
  });

  it("refuses a current that is not a symbolic link, and a target that names no release", async () => {
    const o = origin("odd-origin");
    const a = await app("odd");
    o.commit(ok("v1"), "v1");
    mkdirSync(path.join(a.root, "current"));
    const r = a.deploy(o.url, "v1");
    expect(r).toMatchObject({ stage: "create", code: 1 });
    expect(r.output).toContain(`fleet: ${a.root}/current exists and is not a symbolic link; move it away so releases can be switched`);
    writeFileSync(path.join(a.root, "releases", ".target"), "../../etc\n");
    const t = sh0(releaseLines(a.layout).join("\n"));
    expect(t).toEqual({ code: 1, output: `fleet: ${a.root}/releases/.target names no release: the release step did not run; run up again\n` });
  });
});
