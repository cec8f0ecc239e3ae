/**
 * Daedalus's releases through the real Pulumi engine (issue 13, items 2 and 10): the CLI
 * v3.259 and the command plugin (test/engine/engine.ts) deploy `daedalusApp` as stack
 * ouranos builds it (its config parsed by the stack's schema, its ref resolved at preview
 * by the stack's `resolveSources`, no HAProxy or Prometheus edge) onto a host with systemd
 * as PID 1 (test/engine/systemd-host.ts: this machine's /usr, its git, python3, npm, curl
 * and nginx). Every step of the program runs as it would on Puck: the checkout, the
 * release export, the venv and `pip install`, the migrations, `npm ci` and the build, the
 * unit, the nginx site, the activation and the health check through nginx.
 *
 * What needs the app's registries is a stand-in in the app's repository (a local bare
 * repository with a branch the test moves, which git's `insteadOf` answers for the
 * configured https URL): `venv/bin/uvicorn` is python's http.server in the unit's
 * WorkingDirectory (it refuses to start without the `.env`'s database URL) answering
 * `/api/health` with the commit's `backend/api/health`; `venv/bin/alembic` checks the same
 * variable; the frontend's build writes `build/index.html`; the host has no package index
 * (`pip.conf`: no-index), so `pip` installs the empty requirements from nothing.
 *
 * The steps build on each other, as an operator's runs do.
 */
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { type PulumiFn } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveSources, sourceKey } from "../../src/git/sources";
import { gitLsRemote } from "../../src/git/refs";
import { fleetProgram } from "../../src/remote/command";
import { ouranosSchema } from "../../stacks/ouranos/config";
import { daedalusApp } from "../../stacks/ouranos/daedalus";
import { type Fleet, startHosts } from "../e2e/harness";
import { testRepository, type TestRepository } from "../helpers/git";
import { type EngineStack, engineStack, type Outcome, ops } from "./engine";
import { type SystemdHost, systemdHost } from "./systemd-host";

/** The stack's own URL for Daedalus; git on both sides is pointed at the local repository. */
const URL = "https://git.helu.ca/r/daedalus.git";
const BRANCH = "release";
/** Where the container sees the fixture's directory. */
const FIXTURE = "/opt/fleet-fixture";
const NGINX_PORT = 22181;
const UVICORN_PORT = 8000;
const DB_URL = "postgresql://daedalus:Db-Pa55-never-in-logs@portia.incus:5432/daedalus";
const S3 = { endpoint: "https://nyx.helu.ca:8555", accessKey: "s3-access-never-in-logs", secretKey: "s3-Secret-never-in-logs" };

const UVICORN = `#!/bin/sh
# uvicorn stand-in (tests): serves the directory systemd started it in (the unit's
# WorkingDirectory) on --host:--port; refuses to start without the .env's database URL.
while [ $# -gt 0 ]; do case "$1" in --host) host=$2; shift ;; --port) port=$2; shift ;; esac; shift; done
[ -n "\${DAEDALUS_DATABASE_URL:-}" ] || { echo "uvicorn stand-in: DAEDALUS_DATABASE_URL is not set" >&2; exit 1; }
exec /usr/bin/python3 -m http.server "$port" --bind "$host"
`;
const ALEMBIC = `#!/bin/sh
# alembic stand-in (tests): no revision; upgrade needs the .env's database URL.
[ -n "\${DAEDALUS_DATABASE_URL:-}" ] || { echo "alembic stand-in: DAEDALUS_DATABASE_URL is not set" >&2; exit 1; }
case "$1" in upgrade) echo "alembic stand-in: upgrade $2" ;; esac
`;
const PACKAGE = `{"name": "daedalus-frontend", "version": "1.0.0", "private": true, "scripts": {"build": "mkdir -p build && printf '<!doctype html>\\\\n' > build/index.html"}}\n`;
const LOCK = `{"name": "daedalus-frontend", "version": "1.0.0", "lockfileVersion": 3, "requires": true, "packages": {"": {"name": "daedalus-frontend", "version": "1.0.0"}}}\n`;

/** What a new commit re-runs (each an update): the checkout, the release, its builds and migrations, the activation, the check through nginx. */
const RERUN = [
  "daedalus-activate-command",
  "daedalus-backend-command",
  "daedalus-checkout-command",
  "daedalus-frontend-command",
  "daedalus-health-check",
  "daedalus-migrate-command",
  "daedalus-release-command",
];

const health = (status: "ok" | "error", version: string) => `{"status": "${status}", "version": "${version}"}\n`;

describe("Daedalus releases through the real Pulumi engine on a systemd host", () => {
  let fleet: Fleet;
  let work: string;
  let origin: TestRepository;
  let host: SystemdHost;
  let engine: EngineStack;
  const commits: Record<string, string> = {};
  const logs: string[] = [];
  const remember = <T extends Outcome>(o: T): T => (logs.push(o.log), o);
  const short = (v: string) => commits[v]!.slice(0, 12);
  /** A release of commit `v` as a pattern: `<commit12>`, or `<commit12>-<env12>` where each .env makes its own release. */
  const rel = (v: string) => `${short(v)}(?:-[0-9a-f]{12})?`;
  const line = (text: string) => new RegExp(text);

  /** The program as stack ouranos builds Daedalus: config, the ref resolved at preview, daedalusApp. */
  const program = (ref = BRANCH): PulumiFn =>
    fleetProgram(async () => {
      const cfg = ouranosSchema.parse({
        daedalus: { repo: { url: URL, ref }, nginxPort: NGINX_PORT, uvicornPort: UVICORN_PORT },
        mnemosyne: { image: "registry.example/r/mnemosyne:latest", webImage: "nginx:alpine" },
      });
      const repo = cfg.daedalus.repo;
      const resolved = await resolveSources([repo], {
        subject: "stack ouranos (fleet:ouranos.daedalus.repo)",
        lsRemote: (url, patterns) => gitLsRemote(url === URL ? `file://${origin.bare}` : url, patterns),
        readFiles: false,
      });
      const commit = resolved.get(sourceKey(repo))!.commit;
      const parent = new pulumi.ComponentResource("fleet:test:Ouranos", "ouranos");
      const secret = (v: string) => pulumi.secret(v);
      daedalusApp(
        { cfg, puck: host.host, commit, databaseUrl: secret(DB_URL), s3: { endpoint: S3.endpoint, accessKey: secret(S3.accessKey), secretKey: secret(S3.secretKey) } },
        {},
        parent,
      );
      return { daedalusCommit: commit };
    });

  /** Through nginx on the host, as the stack's health check asks. */
  const served = () => host.run(`curl -sS --max-time 5 http://127.0.0.1:${NGINX_PORT}/api/health`);
  const current = async () => (await host.run("readlink /srv/daedalus/current")).trim();
  const mainPid = async () => Number((await host.run("systemctl show -P MainPID daedalus-api.service")).trim());
  const replaced = (o: Outcome) => o.steps.filter((s) => ["replace", "create-replacement", "delete-replaced"].includes(s.op)).map((s) => `${s.op} ${s.name}`);

  beforeAll(async () => {
    fleet = await startHosts({ names: ["puck"] });
    work = mkdtempSync(join(tmpdir(), "fleet-engine-daedalus-"));
    chmodSync(work, 0o755);
    origin = testRepository(join(work), "daedalus");
    origin.commit(BRANCH, { "venv/bin/uvicorn": UVICORN, "venv/bin/alembic": ALEMBIC, "backend/requirements.txt": "", "frontend/package.json": PACKAGE, "frontend/package-lock.json": LOCK }, "the app");
    // The stand-ins are executables in the repository, as a release's venv has them.
    chmodSync(join(origin.clone, "venv/bin/uvicorn"), 0o755);
    chmodSync(join(origin.clone, "venv/bin/alembic"), 0o755);
    commits.v1 = origin.commit(BRANCH, { "backend/api/health": health("ok", "v1") }, "v1");
    host = await systemdHost(fleet, "puck", "puck", work, [{ source: work, target: FIXTURE, readOnly: true }], [
      // The configured URL answered from the fixture; the repository is root's, daedalus fetches it.
      `printf '[url "file://${FIXTURE}/daedalus.git"]\\n\\tinsteadOf = ${URL}\\n[safe]\\n\\tdirectory = *\\n' > /etc/gitconfig`,
      "printf '[global]\\nno-index = true\\n' > /etc/pip.conf",
    ].join("\n"));
    engine = await engineStack("fleet-engine-daedalus", program());
  });

  afterAll(async () => {
    engine?.dispose();
    await host?.stop();
    await fleet?.teardown();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("the first up creates v1 and serves it: through current, under systemd, over HTTP through nginx", async () => {
    const u = remember(await engine.up(program()));
    expect(Object.keys(ops(u))).toEqual(["create"]);
    expect((await engine.stack.outputs()).daedalusCommit?.value).toBe(commits.v1);
    expect(await served()).toBe(health("ok", "v1"));
    expect(await current()).toMatch(line(`^releases/${rel("v1")}$`));
    expect((await host.run("systemctl is-active daedalus-api.service; systemctl is-enabled daedalus-api.service")).split("\n")).toEqual(["active", "enabled", ""]);
    const pid = await mainPid();
    const [user, cwd] = (await host.run(`ps -o user= -p ${pid}; readlink /proc/${pid}/cwd`)).split("\n");
    expect(user).toBe("daedalus");
    expect(cwd).toMatch(line(`^/srv/daedalus/releases/${rel("v1")}/backend$`));
    // Issue 13 item 10: the running process has every variable the stack provides, as given.
    const environ = (await host.run(`tr '\\0' '\\n' < /proc/${pid}/environ | grep '^DAEDALUS_' | sort`)).split("\n").filter(Boolean);
    expect(environ).toEqual(
      [
        "DAEDALUS_ENV=production",
        `DAEDALUS_DATABASE_URL=${DB_URL}`,
        `DAEDALUS_S3_ENDPOINT=${S3.endpoint}`,
        `DAEDALUS_S3_ACCESS_KEY=${S3.accessKey}`,
        `DAEDALUS_S3_SECRET_KEY=${S3.secretKey}`,
        "DAEDALUS_S3_BUCKET=daedalus",
      ].sort(),
    );
  });

  it("a second preview and up with nothing changed: every resource same, no SSH session on the host", async () => {
    const s0 = await host.sessions();
    const pid = await mainPid();
    const p = remember(await engine.preview(program()));
    const u = remember(await engine.up(program()));
    expect(Object.keys(ops(p))).toEqual(["same"]);
    expect(Object.keys(ops(u))).toEqual(["same"]);
    expect(await host.sessions()).toBe(s0);
    expect(await mainPid()).toBe(pid);
  });

  it("the branch moved to v2: each step that re-runs is an update, none a replacement; up switches current and serves v2", async () => {
    commits.v2 = origin.commit(BRANCH, { "backend/api/health": health("ok", "v2") }, "v2");
    origin.tag("v2");
    const pid = await mainPid();
    const p = remember(await engine.preview(program()));
    expect(replaced(p)).toEqual([]);
    expect(ops(p).update).toEqual(expect.arrayContaining(RERUN));
    const u = remember(await engine.up(program()));
    expect(replaced(u)).toEqual([]);
    expect(ops(u).update).toEqual(expect.arrayContaining(RERUN));
    expect(Object.keys(ops(u)).sort()).toEqual(["same", "update"]);
    expect((await engine.stack.outputs()).daedalusCommit?.value).toBe(commits.v2);
    expect(await served()).toBe(health("ok", "v2"));
    expect(await current()).toMatch(line(`^releases/${rel("v2")}$`));
    expect((await host.run("cat /srv/daedalus/releases/.previous")).trim()).toMatch(line(`^${rel("v1")}$`));
    expect(await mainPid()).not.toBe(pid);
  });

  it("a broken v3 fails up naming the check, the host and the release restored, and v2 still serves", async () => {
    commits.v3 = origin.commit(BRANCH, { "backend/api/health": health("error", "v3") }, "v3");
    const f = remember(await engine.upFailing(program()));
    expect(replaced(f)).toEqual([]);
    expect(f.error).toMatch(line(`fleet: check api-health failed on puck: release ${rel("v3")} of Daedalus is not healthy`));
    expect(f.error).toMatch(line(`fleet: Daedalus: rolled back: current -> release ${rel("v2")} again[^,\\n]*, restarted; release ${rel("v2")} serves`));
    // The check through nginx never ran: it waits for the activation.
    expect(f.steps.filter((s) => s.name === "daedalus-health-check").map((s) => s.op)).toEqual([]);
    expect(await served()).toBe(health("ok", "v2"));
    expect(await current()).toMatch(line(`^releases/${rel("v2")}$`));
    expect((await host.run("systemctl is-active daedalus-api.service")).trim()).toBe("active");
  });

  it("the ref set back to v2 (its tag) after the failed v3: up succeeds, v2 is neither exported nor built again, nor swapped to", async () => {
    const build = `/srv/daedalus/releases/${short("v2")}`;
    await host.run(`cd ${build} && touch -d '2000-01-01' .fleet-built-backend .fleet-built-frontend`);
    // The export (inode and mtime of its directory), the builds (their markers), the swap (.previous, current).
    const state = () => host.run(`stat -c '%n %i %Y' ${build} ${build}/.fleet-built-*; cat /srv/daedalus/releases/.previous; readlink /srv/daedalus/current`);
    const before = await state();
    const u = remember(await engine.up(program("v2")));
    expect(replaced(u)).toEqual([]);
    expect(await state()).toBe(before);
    expect(await served()).toBe(health("ok", "v2"));
    expect(await current()).toMatch(line(`^releases/${rel("v2")}$`));
    expect((await engine.stack.outputs()).daedalusCommit?.value).toBe(commits.v2);
  });

  it("no secret of the program in any preview, up or destroy log", () => {
    expect(logs.length).toBeGreaterThanOrEqual(7);
    for (const value of ["Db-Pa55-never-in-logs", S3.accessKey, S3.secretKey]) for (const log of logs) expect(log.includes(value), value).toBe(false);
  });

  it("destroy removes what the stack made: the unit (stopped), the site, the .env; the user and the releases stay (data)", async () => {
    const d = remember(await engine.destroy(program()));
    expect(Object.keys(ops(d))).toEqual(["delete"]);
    const gone = ["/etc/systemd/system/daedalus-api.service", "/etc/nginx/conf.d/daedalus.conf", "/srv/daedalus/.env"];
    const r = await host.systemd.run(
      `systemctl is-active daedalus-api.service; for f in ${gone.join(" ")}; do test -e "$f" && echo "$f" || echo gone; done; curl -s -o /dev/null -w '%{http_code}\\n' http://127.0.0.1:${NGINX_PORT}/api/health; id -un daedalus; ls /srv/daedalus/releases`,
    );
    const [state, ...rest] = r.stdout.split("\n");
    expect([state, ...rest.slice(0, 5)]).toEqual(["inactive", "gone", "gone", "gone", "000", "daedalus"]);
    const releases = rest.slice(5).filter(Boolean);
    for (const v of ["v1", "v2", "v3"]) expect(releases.some((d) => d.startsWith(short(v))), v).toBe(true);
  });
});
