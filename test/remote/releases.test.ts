/**
 * The release layout (src/remote/releases.ts), run for real with `sh`: a local origin
 * repository, the library's own checkout into `<root>/repo`, the env file the stack
 * writes, the release step, and the activation against a stand-in service on loopback (a
 * python server started by the restart command in `current/backend` with
 * `current/.env` loaded, as systemd starts a unit in its WorkingDirectory with its
 * EnvironmentFile, so it serves the code and the env of the release it was started in
 * until the next restart). Each claim is proved by a request to the service: a v2 whose
 * health fails leaves v1 serving, an env that breaks it leaves the old env serving.
 */
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
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
/**
 * The stand-in app: /api/health answers the release's backend/api/health.json (read from
 * the directory it was started in) with APP_MODE from its environment; mode "broken" (or
 * none) makes it unhealthy, as an app whose setting is wrong.
 */
const STAND_IN = path.join(work, "stand-in.py");
writeFileSync(
  STAND_IN,
  [
    "import http.server, json, os, sys",
    "class H(http.server.BaseHTTPRequestHandler):",
    "    def do_GET(self):",
    "        if self.path != '/api/health':",
    "            self.send_response(404); self.end_headers(); return",
    "        code = json.load(open('api/health.json'))",
    "        mode = os.environ.get('APP_MODE', 'unset')",
    "        ok = code['status'] == 'ok' and mode not in ('broken', 'unset')",
    "        body = (json.dumps({'status': 'ok' if ok else 'error', 'version': code['version'], 'mode': mode}) + '\\n').encode()",
    "        self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers(); self.wfile.write(body)",
    "    def log_message(self, *a):",
    "        pass",
    "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()",
    "",
  ].join("\n"),
);
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
  const layout: ReleaseLayout = { root, repository: `${root}/repo`, keep, envFile: `${root}/.env`, parts: ["backend", "frontend", "venv"], legacy: true };
  // The unit file the activation restarts for when it changed (the stand-in's is a plain file).
  const unitFile = path.join(work, name, "app.service");
  writeFileSync(unitFile, "[Service]\nExecStart=stand-in\n");
  const restarts = path.join(work, name, "restarts.log");
  // The unit's restart: stop the running process and wait until it is gone, start a new one
  // in current/backend (resolved now) with current/.env loaded (EnvironmentFile) and wait
  // until it listens, as a notify-type unit's restart returns once the service is up. So
  // the checks need no retry delay: an unhealthy release fails its attempts at once
  // instead of after seconds of sleeping (the file's wall time). Each start is counted.
  // "Gone" includes a zombie: the stand-in's parent shell has exited, so the dead process
  // waits for PID 1 to reap it (here every ≈ 2 s) while `kill -0` still succeeds; its
  // socket is already closed. Waiting for the reaping cost ≈ 2 s per restart.
  const listening = `i=0; until curl -s -o /dev/null http://127.0.0.1:${port}/; do i=$((i+1)); [ "$i" -lt 400 ] || break; sleep 0.05; done`;
  const gone = `{ st=$(cat "/proc/$old/stat" 2>/dev/null) || break; case "$st" in *") Z "*) break ;; esac; }`;
  const restart = [
    `{ if [ -f ${sh(pidFile)} ]; then old=$(cat ${sh(pidFile)}); kill "$old" 2>/dev/null || true; i=0; while [ "$i" -lt 400 ]; do ${gone}; i=$((i+1)); sleep 0.05; done; fi`,
    `echo start >> ${sh(restarts)}`,
    `cd ${sh(`${root}/current/backend`)} && { (set -a && . ${sh(`${root}/current/.env`)} && set +a && exec python3 ${sh(STAND_IN)} ${port}) >/dev/null 2>&1 </dev/null & echo $! > ${sh(pidFile)}; }; ${listening}; cd ${sh(root)}; }`,
  ].join("; ");
  const health = healthCheckScript(healthCheckSchema.parse({ url: `http://127.0.0.1:${port}/api/health`, bodyMatch: '"status": ?"ok"', attempts: 2, initialDelaySeconds: 0, maxDelaySeconds: 1, description: "stand-in /api/health" }));
  const build = [...releaseLines(layout), `cd "$release"`, `mkdir -p venv frontend`].join("\n");
  const activate = () => sh0(releaseActivateScript(layout, { app: "Daedalus", hostName: "puck", restart, checks: [{ name: "health", body: health }], unitFile }));
  /** Starts of the service so far. */
  const starts = () => (existsSync(restarts) ? readFileSync(restarts, "utf8").split("\n").filter(Boolean).length : 0);
  return {
    root,
    layout,
    unitFile,
    starts,
    activate,
    /** The env file the stack writes (mode 0600, as the env resource does). */
    env(text: string) {
      writeFileSync(layout.envFile, text, { mode: 0o600 });
    },
    /**
     * One `up` in the stack's order: checkout, release, build, activation (the unit is not
     * restarted on its own). `restarts`: the service's starts during this up.
     */
    deploy(url: string, ref: string) {
      const before = starts();
      const checkout = sh0(`set -eu\n${gitCheckoutScript({ url, ref, directory: layout.repository, directoryMode: "0750" })}`);
      if (checkout.code !== 0) throw new Error(checkout.output);
      const created = sh0(releaseCreateScript(layout));
      if (created.code !== 0) return { stage: "create", ...created, restarts: 0 };
      const built = sh0(build);
      if (built.code !== 0) return { stage: "build", code: built.code, output: created.output + built.output, restarts: 0 };
      // A fresh host: the unit's enable starts it, through current as the release step left it.
      if (before === 0 && !existsSync(pidFile)) {
        const started = sh0(restart);
        if (started.code !== 0) throw new Error(started.output);
      }
      const activated = activate();
      return { stage: "activate", code: activated.code, output: created.output + activated.output, restarts: starts() - before };
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
/** What the stand-in answers. */
const answer = (status: "ok" | "error", version: string, mode: string) => `${JSON.stringify({ status, version, mode }).replace(/":/g, '": ').replace(/,"/g, ', "')}\n`;
const c12 = (commit: string) => commit.slice(0, 12);
/** The release of a commit: its build's name, a dash and 12 hex digits of the env's keyed hash. */
const releaseOf = (commit: string) => new RegExp(`^releases/${c12(commit)}-[0-9a-f]{12}$`);

describe("releases: build beside the live one, swap current, roll back on a failed check", () => {
  it("v1 goes live; a v2 whose health fails is swapped back and v1 serves (proved by a request); v3 goes live and the failed v2 is pruned, its build with it", async () => {
    const o = origin("daedalus-origin");
    const a = await app("one", 2);
    a.env("APP_MODE=one\n");
    const v1 = o.commit(ok("v1"), "v1");

    const first = a.deploy(o.url, "v1");
    expect(first).toMatchObject({ stage: "activate", code: 0 });
    expect(a.current()).toMatch(releaseOf(v1));
    const r1 = a.current().slice("releases/".length);
    expect(first.output).toContain(`fleet: first release ${r1}; current points at it\n`);
    expect(first.output).toContain(`fleet: Daedalus: release ${r1} is live and healthy on puck`);
    expect(await a.serving()).toBe(answer("ok", "v1", "one"));
    // The build holds the tree at the commit, not the repository; the release links to it.
    expect(existsSync(path.join(a.root, "releases", c12(v1), ".git"))).toBe(false);
    expect(readlinkSync(path.join(a.root, "releases", r1, "backend"))).toBe(`../${c12(v1)}/backend`);

    const v2 = o.commit(broken("v2"), "v2");
    const second = a.deploy(o.url, "v2");
    expect(second.stage).toBe("activate");
    expect(second.code).toBe(1);
    const r2 = second.output.match(/fleet: release (\S+): commit /)?.[1] ?? "";
    expect(`releases/${r2}`).toMatch(releaseOf(v2));
    expect(second.output).toContain(`fleet: check health failed on puck: release ${r2} of Daedalus is not healthy`);
    expect(second.output).toContain(`fleet: Daedalus: rolled back: current -> release ${r1} again (its code and its env), restarted; release ${r1} serves`);
    expect(a.current()).toBe(`releases/${r1}`);
    expect(await a.serving()).toBe(answer("ok", "v1", "one"));

    const v3 = o.commit(ok("v3"), "v3");
    const third = a.deploy(o.url, "v3");
    expect(third).toMatchObject({ stage: "activate", code: 0 });
    expect(await a.serving()).toBe(answer("ok", "v3", "one"));
    // keep 2: the live v3 and the previous v1; the failed v2 is pruned, and its build, which no release uses.
    expect(third.output).toContain(`fleet: pruned release ${r2}\n`);
    expect(third.output).toContain(`fleet: pruned build ${c12(v2)} (no release kept uses it)\n`);
    const r3 = a.current().slice("releases/".length);
    expect(a.releases()).toEqual([c12(v1), r1, c12(v3), r3].sort());
  });

  it("an env-only change is a release of the same build: a bad env is swapped back and the old env serves again; a good one goes live; one restart each (issue 13 item 2)", async () => {
    const o = origin("env-origin");
    const a = await app("env", 2);
    const secret = "Planted-Env-Secret-7";
    a.env(`APP_MODE=one\nAPP_TOKEN=${secret}\n`);
    const v1 = o.commit(ok("v1"), "v1");
    const first = a.deploy(o.url, "v1");
    expect(first).toMatchObject({ code: 0, restarts: 1 });
    const r1 = a.current().slice("releases/".length);
    expect(await a.serving()).toBe(answer("ok", "v1", "one"));

    // The same commit, an env the app cannot run with: a new release, checked, swapped back.
    a.env(`APP_MODE=broken\nAPP_TOKEN=${secret}\n`);
    const bad = a.deploy(o.url, "v1");
    const r2 = bad.output.match(/fleet: release (\S+): commit /)?.[1] ?? "";
    expect(`releases/${r2}`).toMatch(releaseOf(v1));
    expect(r2).not.toBe(r1);
    expect(bad.output).toContain(`fleet: the build of commit ${c12(v1)} is on the host already; kept as it is\n`);
    expect(bad.code).toBe(1);
    expect(bad.output).toContain(`fleet: check health failed on puck: release ${r2} of Daedalus is not healthy`);
    expect(bad.output).toContain(`fleet: Daedalus: rolled back: current -> release ${r1} again (its code and its env), restarted; release ${r1} serves`);
    // The rollback restored the old env too: the service runs with mode one again.
    expect(await a.serving()).toBe(answer("ok", "v1", "one"));
    expect(bad.restarts).toBe(2);

    a.env(`APP_MODE=two\nAPP_TOKEN=${secret}\n`);
    const good = a.deploy(o.url, "v1");
    expect(good).toMatchObject({ code: 0, restarts: 1 });
    const r3 = a.current().slice("releases/".length);
    expect(await a.serving()).toBe(answer("ok", "v1", "two"));
    // Each release holds its env, 0600; the env text is never printed, and the release's
    // name is a keyed hash: not the env's own sha256.
    for (const r of [r1, r3]) expect(statSync(path.join(a.root, "releases", r, ".env")).mode & 0o777).toBe(0o600);
    expect(readFileSync(path.join(a.root, "releases", r3, ".env"), "utf8")).toBe(`APP_MODE=two\nAPP_TOKEN=${secret}\n`);
    expect(statSync(path.join(a.root, "releases", ".env-key")).mode & 0o777).toBe(0o600);
    const plain = sh0(`sha256sum < ${sh(a.layout.envFile)} | cut -c1-12`).output.trim();
    expect(r3.endsWith(`-${plain}`)).toBe(false);
    for (const out of [first.output, bad.output, good.output]) expect(out).not.toContain(secret);
    // keep 2: the live r3 and the previous r1; the bad env's release is pruned with its .env.
    expect(good.output).toContain(`fleet: pruned release ${r2}\n`);
    expect(a.releases()).toEqual([c12(v1), r1, r3].sort());

    // The same env again (set back): the release on the host is used as it is.
    a.env(`APP_MODE=one\nAPP_TOKEN=${secret}\n`);
    const back = a.deploy(o.url, "v1");
    expect(back).toMatchObject({ code: 0, restarts: 1 });
    expect(back.output).toContain(`fleet: release ${r1} (commit ${c12(v1)} with this env) is on the host already\n`);
    expect(a.current()).toBe(`releases/${r1}`);
    expect(await a.serving()).toBe(answer("ok", "v1", "one"));
  });

  it("the unit is restarted only by the activation: once when its file changed on the live release, not at all when nothing did", async () => {
    const o = origin("unit-origin");
    const a = await app("unit");
    a.env("APP_MODE=one\n");
    o.commit(ok("v1"), "v1");
    expect(a.deploy(o.url, "v1")).toMatchObject({ code: 0, restarts: 1 });
    const pid = () => readFileSync(path.join(work, "unit", "service.pid"), "utf8").trim();
    const before = pid();
    // Run again with nothing changed: the checks only.
    const again = a.activate();
    expect(again.code).toBe(0);
    expect(pid()).toBe(before);
    // A new unit file, the same release: one restart, then the checks.
    writeFileSync(a.unitFile, "[Service]\nExecStart=stand-in --workers 2\n");
    const changed = a.activate();
    expect(changed.code).toBe(0);
    const r = a.current().slice("releases/".length);
    expect(changed.output).toContain(`fleet: Daedalus: ${a.unitFile} changed since the last restart; restarting release ${r} on puck\n`);
    expect(pid()).not.toBe(before);
    expect(a.starts()).toBe(2);
    expect(a.activate().code).toBe(0);
    expect(a.starts()).toBe(2);
  });

  it("a failed activation prints the rollback note of the release's build (what its migrations left in the database)", async () => {
    const o = origin("noted-origin");
    const a = await app("noted");
    a.env("APP_MODE=one\n");
    o.commit(ok("v1"), "v1");
    expect(a.deploy(o.url, "v1")).toMatchObject({ code: 0 });
    const v2 = o.commit(broken("v2"), "v2");
    // Daedalus's migrate step, run in the new build with a stand-in alembic whose database
    // is a file: at 0001 before, 0002 after `upgrade head`.
    const db = path.join(a.root, "db-revision");
    writeFileSync(db, "0001\n");
    a.env(`APP_MODE=one\nDAEDALUS_DB='${db}'\n`);
    const pre = sh0(`set -eu\n${gitCheckoutScript({ url: o.url, ref: "v2", directory: a.layout.repository })}\n${releaseCreateScript(a.layout)}`);
    expect(pre.code).toBe(0);
    const rel = path.join(a.root, "releases", c12(v2));
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
    expect(await a.serving()).toBe(answer("ok", "v1", "one"));
  });

  it("a first release that is not healthy has nothing to go back to and says so", async () => {
    const o = origin("bad-first-origin");
    const a = await app("bad-first");
    a.env("APP_MODE=one\n");
    const v1 = o.commit(broken("v1"), "v1");
    const r = a.deploy(o.url, "v1");
    expect(r.code).toBe(1);
    const id = a.current().slice("releases/".length);
    expect(`releases/${id}`).toMatch(releaseOf(v1));
    expect(r.output).toContain(`fleet: first release ${id}; current points at it`);
    expect(r.output).toContain(`fleet: check health failed on puck: release ${id} of Daedalus is the live one; there is no other release to go back to`);
  });

  it("adopts an in-place deployment (git tree in the root) as release <commit12>-inplace with the env as its .env, then a failed new release goes back to it", async () => {
    const o = origin("legacy-origin");
    const v1 = o.commit(ok("v1"), "v1");
    const a = await app("legacy");
    // The old layout: the checkout is the root itself, the built parts beside the tracked ones.
    const old = sh0(`set -eu\n${gitCheckoutScript({ url: o.url, ref: "v1", directory: a.root })}\nmkdir -p venv frontend`);
    expect(old.code).toBe(0);
    a.env("APP_MODE=one\n");
    const v2 = o.commit(broken("v2"), "v2");
    const r = a.deploy(o.url, "v2");
    const adopted = `${c12(v1)}-inplace`;
    const id = r.output.match(/fleet: release (\S+): commit /)?.[1] ?? "";
    expect(r.output).toContain(`fleet: adopted the in-place deployment in ${a.root} (commit ${c12(v1)}) as release ${adopted}; current points at it until release ${id} is activated`);
    expect(r.code).toBe(1);
    expect(r.output).toContain(`rolled back: current -> release ${adopted} again`);
    expect(a.current()).toBe(`releases/${adopted}`);
    for (const p of ["backend", "frontend", "venv"]) expect(readlinkSync(path.join(a.root, "releases", adopted, p))).toBe(path.join(a.root, p));
    expect(statSync(path.join(a.root, "releases", adopted, ".env")).mode & 0o777).toBe(0o600);
    // The adopted release's parts are the in-place ones: the service answers from them.
    expect(lstatSync(path.join(a.root, "releases", adopted)).isDirectory()).toBe(true);
    expect(await a.serving()).toBe(answer("ok", "v1", "one"));
    expect(a.releases()).toEqual([adopted, c12(v2), id].sort());
  });

  it("a live release from before releases carried their env gets the env file as its .env, so a rollback to it starts", async () => {
    const o = origin("upgrade-origin");
    const a = await app("upgrade");
    const v1 = o.commit(ok("v1"), "v1");
    // The layout the previous code left: current -> releases/<commit12>, the env shared in the root.
    const built = sh0(`set -eu\n${gitCheckoutScript({ url: o.url, ref: "v1", directory: a.layout.repository })}\nmkdir -p ${sh(a.root)}/releases && git -C ${sh(a.layout.repository)} archive --format=tar HEAD | (mkdir ${sh(`${a.root}/releases/${c12(v1)}`)} && tar -x -C ${sh(`${a.root}/releases/${c12(v1)}`)}) && ln -s releases/${c12(v1)} ${sh(`${a.root}/current`)}`);
    expect(built.code).toBe(0);
    a.env("APP_MODE=one\n");
    const v2 = o.commit(broken("v2"), "v2");
    const r = a.deploy(o.url, "v2");
    expect(r.output).toContain(`fleet: release ${c12(v1)} (from before releases carried their env) has ${a.root}/.env as it is now as its .env\n`);
    expect(r.code).toBe(1);
    expect(r.output).toContain(`fleet: Daedalus: rolled back: current -> release ${c12(v1)} again (its code and its env), restarted; release ${c12(v1)} serves`);
    expect(await a.serving()).toBe(answer("ok", "v1", "one"));
    expect(a.releases()).toContain(c12(v2));
  });

  it("refuses a current that is not a symbolic link, a missing env file, and a target that names no release", async () => {
    const o = origin("odd-origin");
    const a = await app("odd");
    o.commit(ok("v1"), "v1");
    const noEnv = a.deploy(o.url, "v1");
    expect(noEnv).toMatchObject({ stage: "create", code: 1 });
    expect(noEnv.output).toContain(`fleet: ${a.root}/.env is missing: the env file is written before the release step; run up again\n`);
    a.env("APP_MODE=one\n");
    mkdirSync(path.join(a.root, "current"));
    const r = a.deploy(o.url, "v1");
    expect(r).toMatchObject({ stage: "create", code: 1 });
    expect(r.output).toContain(`fleet: ${a.root}/current exists and is not a symbolic link; move it away so releases can be switched`);
    for (const bad of ["../../etc\n", "0123456789ab\n", "0123456789ab-0123456789ab-x\n"]) {
      writeFileSync(path.join(a.root, "releases", ".target"), bad);
      const t = sh0(releaseLines(a.layout).join("\n"));
      expect(t).toEqual({ code: 1, output: `fleet: ${a.root}/releases/.target names no release: the release step did not run; run up again\n` });
    }
    // A target whose release directory is not there: the activation touches nothing.
    writeFileSync(path.join(a.root, "releases", ".target"), "0123456789ab-0123456789ab\n");
    const missing = a.activate();
    expect(missing).toEqual({ code: 1, output: `fleet: ${a.root}/releases/0123456789ab-0123456789ab is missing: the release step did not finish; run up again\n` });
  });
});
