/**
 * Issue 13 item 2 for Daedalus: a new version is switched to only when healthy, under a
 * real systemd (test/e2e/systemd.ts: this machine's /usr booted in a container, its curl,
 * python3 and nginx). The stack's own scripts (from the ouranos program built under mocks)
 * make the user, the directory and the `.env`, make each release (`daedalus-release`: the
 * commit exported into its build, the `.env` copied into the release), install and enable
 * the unit, install the nginx site into a running nginx (Debian's own configuration,
 * copied), and activate the release (`daedalus-activate`: current swapped, the deploy's one
 * `systemctl restart`, the checks straight at uvicorn and through nginx, the swap back).
 * What needs the app's registries is a stand-in: the checkout comes from a local
 * repository (the library's own checkout script, as daedalus), and the build's
 * `venv/bin/uvicorn` is python's http.server in the unit's WorkingDirectory, answering
 * `/api/health` with the commit's `backend/api/health`, each start logged. Each outcome is
 * asked of the service over HTTP, directly and through nginx.
 */
import { chmodSync, cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gitCheckoutScript } from "../../src/remote/checkout";
import { sh } from "../../src/remote/quote";
import { releaseLines } from "../../src/remote/releases";
import { DAEDALUS_ENV_FILE, DAEDALUS_REPO, DAEDALUS_ROOT } from "../../stacks/ouranos/daedalus";
import { testRepository } from "../helpers/git";
import { buildOuranos } from "../program/ouranos";
import { reveal } from "./program";
import { type BootedSystemd, bootSystemd, type ProgramCommand as Cmd, runProgramCommand, type ScriptResult } from "./systemd";

/** The release's uvicorn: python's http.server on --port, serving the directory systemd started it in; each start logged. */
const STAND_IN = [
  "#!/bin/sh",
  'while [ $# -gt 0 ]; do case "$1" in --port) port=$2; shift ;; esac; shift; done',
  'echo "daedalus stand-in start in $(pwd -P)"',
  'exec /usr/bin/python3 -m http.server "$port" --bind 127.0.0.1',
  "",
].join("\n");

describe("Daedalus releases under a real systemd and nginx: one restart per deploy, an unhealthy release (or one nginx cannot serve) is swapped back", () => {
  let srv: string;
  let etcNginx: string;
  let systemd: BootedSystemd;
  let cmds: Map<string, Cmd>;
  let port: number;
  let nginxPort: number;
  let origin: ReturnType<typeof testRepository>;

  // The file helper a command calls is installed first, as the engine orders it.
  const runCmd = (name: string): Promise<ScriptResult> => runProgramCommand(systemd, cmds, name);
  const must = async (name: string) => {
    const r = await runCmd(name);
    if (r.code !== 0) throw new Error(`${name}: exit ${r.code}\n${r.stdout}${r.stderr}`);
    return r;
  };
  const inside = async (script: string) => {
    const r = await systemd.run(script);
    if (r.code !== 0) throw new Error(`${script}: exit ${r.code}\n${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  const asDaedalus = (script: string) => inside(`runuser -u daedalus -- /bin/sh -c ${sh(`set -eu\n${script}`)}`);
  const serving = () => inside(`curl -sS --max-time 5 http://127.0.0.1:${port}/api/health`);
  const viaNginx = () => inside(`curl -sS --max-time 5 http://127.0.0.1:${nginxPort}/api/health`);
  const current = async () => (await inside("readlink /srv/daedalus/current")).trim();
  /** The release this up deployed (daedalus-release names it). */
  const target = async () => (await inside("cat /srv/daedalus/releases/.target")).trim();
  /** Starts of the service so far (each logged by the stand-in). */
  const starts = async () => (await inside("journalctl -u daedalus-api.service -o cat --no-pager")).split("\n").filter((l) => l.startsWith("daedalus stand-in start in ")).length;

  /**
   * One `up` of `ref`, in the engine's order: checkout, release, the builds (stand-ins; an
   * SPA build nginx may not read with `spaMode`), the unit and the site (installed on the
   * first; the unit is never restarted on its own), then the activation.
   */
  const up = async (ref: string, first: boolean, spaMode = "0755"): Promise<ScriptResult & { restarts: number }> => {
    const before = first ? 0 : await starts();
    // The origin is root's and git refuses another owner's repository: daedalus fetches from its own copy.
    await inside("rm -rf /srv/served.git && cp -r /srv/origin.git /srv/served.git && chown -R daedalus:daedalus /srv/served.git");
    await asDaedalus(gitCheckoutScript({ url: "file:///srv/served.git", ref, directory: "/srv/daedalus/repo", directoryMode: "0750" }));
    await must("daedalus-release-command");
    await asDaedalus(
      [
        ...releaseLines({ root: DAEDALUS_ROOT, repository: DAEDALUS_REPO, keep: 3, envFile: DAEDALUS_ENV_FILE, parts: [] }),
        `mkdir -p "$release/venv/bin" "$release/frontend/build"`,
        `cat > "$release/venv/bin/uvicorn" <<'EOF'\n${STAND_IN}EOF`,
        `chmod 0755 "$release/venv/bin/uvicorn"`,
        `echo '<!doctype html>' > "$release/frontend/build/index.html"`,
        `chmod ${spaMode} "$release/frontend/build"`,
      ].join("\n"),
    );
    if (first) {
      await must("daedalus-api-unit");
      await must("daedalus-api-enable");
      await must("daedalus-site-config");
    }
    const r = await runCmd("daedalus-activate-command");
    return { ...r, restarts: (await starts()) - before };
  };

  beforeAll(async () => {
    const built = await buildOuranos("all secrets set");
    cmds = new Map(
      built.run.byType("command:remote:Command").map((r) => {
        const i = reveal(r.inputs) as Record<string, unknown>;
        return [r.name, { create: String(i.create), stdin: typeof i.stdin === "string" ? i.stdin : "" }];
      }),
    );
    port = Number(/--port (\d+)/.exec(cmds.get("daedalus-api-unit")!.stdin)?.[1]);
    nginxPort = Number(/^\s*listen (\d+);/m.exec(cmds.get("daedalus-site-config")!.stdin)?.[1]);
    expect(port).toBeGreaterThan(0);
    expect(nginxPort).toBeGreaterThan(0);

    srv = mkdtempSync(join(tmpdir(), "fleet-releases-"));
    chmodSync(srv, 0o755);
    origin = testRepository(srv, "origin");
    // Debian's nginx configuration, copied (the container's /etc is its own; this machine's stays untouched).
    etcNginx = mkdtempSync(join(tmpdir(), "fleet-releases-nginx-"));
    cpSync("/etc/nginx", etcNginx, { recursive: true, verbatimSymlinks: true });
    for (const d of ["conf.d", "sites-enabled"]) rmSync(join(etcNginx, d), { recursive: true, force: true });
    systemd = await bootSystemd(`fleet-releases-${process.pid}`, [
      { source: srv, target: "/srv" },
      { source: etcNginx, target: "/etc/nginx" },
    ]);
    // Debian's nginx unit, started without its dependencies: it wants network-online.target,
    // which in this container waits out systemd-networkd-wait-online (about 2 minutes).
    await inside("mkdir -p /etc/nginx/conf.d /etc/nginx/sites-enabled /var/log/nginx /var/lib/nginx && { id -u www-data >/dev/null 2>&1 || useradd --system --user-group --no-create-home --shell /usr/sbin/nologin www-data; } && systemctl start --job-mode=ignore-dependencies nginx");
    await must("daedalus-user-useradd");
    await must("daedalus-dirs-install");
    await must("daedalus-env");
  }, 300_000);

  afterAll(async () => {
    await systemd?.stop();
    if (srv) rmSync(srv, { recursive: true, force: true });
    if (etcNginx) rmSync(etcNginx, { recursive: true, force: true });
  }, 120_000);

  it("v1 goes live through current, started once; v2, unhealthy, is swapped back and v1 answers again; v3, which nginx cannot serve, is swapped back too; v4 goes live with one restart", async () => {
    const v1 = origin.commit("main", { "backend/api/health": '{"status": "ok", "version": "v1"}\n' }, "v1");
    origin.tag("v1");
    const first = await up("v1", true);
    expect(first.code).toBe(0);
    const r1 = (await current()).replace(/^releases\//, "");
    expect(r1).toMatch(new RegExp(`^${v1.slice(0, 12)}-[0-9a-f]{12}$`));
    expect(first.stdout).toContain(`fleet: Daedalus: release ${r1} is live and healthy on puck`);
    // The unit's enable started it; the activation found it running with this unit file and only checked.
    expect(first.restarts).toBe(1);
    expect(await serving()).toBe('{"status": "ok", "version": "v1"}\n');
    expect(await viaNginx()).toBe('{"status": "ok", "version": "v1"}\n');
    // The unit reads the release's copy of the .env (0600, daedalus's).
    expect((await inside(`stat -c '%a %U' /srv/daedalus/releases/${r1}/.env`)).trim()).toBe("600 daedalus");

    const v2 = origin.commit("main", { "backend/api/health": '{"status": "error", "version": "v2"}\n' }, "v2");
    origin.tag("v2");
    const pidBefore = (await inside("systemctl show -P MainPID daedalus-api.service")).trim();
    const second = await up("v2", false);
    expect(second.code).toBe(1);
    const r2 = await target();
    expect(r2.startsWith(`${v2.slice(0, 12)}-`)).toBe(true);
    expect(second.stderr).toContain(`fleet: check api-health failed on puck: release ${r2} of Daedalus is not healthy`);
    expect(second.stderr).toContain(`fleet: Daedalus: rolled back: current -> release ${r1} again (its code and its env), restarted; release ${r1} serves`);
    // systemd really ran v2 (its health said error), and runs v1 again: asked over HTTP.
    expect(second.stdout + second.stderr).toContain('"version": "v2"');
    expect(await serving()).toBe('{"status": "ok", "version": "v1"}\n');
    expect(await current()).toBe(`releases/${r1}`);
    expect((await inside("systemctl show -P MainPID daedalus-api.service")).trim()).not.toBe(pidBefore);
    expect(second.restarts).toBe(2);

    // uvicorn serves v3, but nginx (www-data) cannot read its SPA build: through nginx it fails, and it is rolled back.
    const v3 = origin.commit("main", { "backend/api/health": '{"status": "ok", "version": "v3"}\n' }, "v3");
    origin.tag("v3");
    const third = await up("v3", false, "0700");
    expect(third.code).toBe(1);
    const r3 = await target();
    expect(r3.startsWith(`${v3.slice(0, 12)}-`)).toBe(true);
    expect(third.stderr).toContain(`fleet: check spa-via-nginx failed on puck: release ${r3} of Daedalus is not healthy`);
    expect(third.stderr).toContain(`fleet: Daedalus: rolled back: current -> release ${r1} again (its code and its env), restarted; release ${r1} serves`);
    expect(await current()).toBe(`releases/${r1}`);
    expect(await viaNginx()).toBe('{"status": "ok", "version": "v1"}\n');

    const v4 = origin.commit("main", { "backend/api/health": '{"status": "ok", "version": "v4"}\n' }, "v4");
    origin.tag("v4");
    const fourth = await up("v4", false);
    expect(fourth.code).toBe(0);
    // One restart for the deploy: the activation's, on the new release.
    expect(fourth.restarts).toBe(1);
    expect(await serving()).toBe('{"status": "ok", "version": "v4"}\n');
    expect(await viaNginx()).toBe('{"status": "ok", "version": "v4"}\n');
    expect((await inside("cat /srv/daedalus/releases/.previous")).trim()).toBe(r1);
    // keep 3: v4 live, v1 before it, v3 the newest other; v2's release and its build are pruned.
    const r4 = (await current()).replace(/^releases\//, "");
    expect((await inside("ls /srv/daedalus/releases")).split("\n").filter(Boolean).sort()).toEqual([v1.slice(0, 12), r1, v3.slice(0, 12), r3, v4.slice(0, 12), r4].sort());
  });
});
