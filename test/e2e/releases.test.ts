/**
 * Issue 13 item 2 for Daedalus: a new version is switched to only when healthy, under a
 * real systemd (test/e2e/systemd.ts: this machine's /usr booted in a container, its curl
 * and python3). The stack's own scripts (from the ouranos program built under mocks) make
 * the user, the directory and the `.env`, export each commit into its release
 * (`daedalus-release`), install and restart the unit, and activate the release
 * (`daedalus-activate`: current swapped, `systemctl restart`, the checks, the swap back).
 * What needs the app's registries is a stand-in: the checkout comes from a local
 * repository (the library's own checkout script, as daedalus), and the release's
 * `venv/bin/uvicorn` is python's http.server in the unit's WorkingDirectory, answering
 * `/api/health` with the commit's `backend/api/health`. Each outcome is asked of the
 * service over HTTP.
 */
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gitCheckoutScript } from "../../src/remote/checkout";
import { sh } from "../../src/remote/quote";
import { releaseLines } from "../../src/remote/releases";
import { DAEDALUS_REPO, DAEDALUS_ROOT } from "../../stacks/ouranos/daedalus";
import { testRepository } from "../helpers/git";
import { buildOuranos } from "../program/ouranos";
import { reveal } from "./program";
import { type BootedSystemd, bootSystemd, type ProgramCommand as Cmd, runProgramCommand, type ScriptResult } from "./systemd";

/** The release's uvicorn: python's http.server on --port, serving the directory systemd started it in. */
const STAND_IN = ["#!/bin/sh", 'while [ $# -gt 0 ]; do case "$1" in --port) port=$2; shift ;; esac; shift; done', 'exec /usr/bin/python3 -m http.server "$port" --bind 127.0.0.1', ""].join("\n");

describe("Daedalus releases under a real systemd: an unhealthy release is swapped back, the previous one serves", () => {
  let srv: string;
  let systemd: BootedSystemd;
  let cmds: Map<string, Cmd>;
  let port: number;
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

  /**
   * One `up` of `ref`, in the engine's order: checkout, release, the builds (stand-ins),
   * the unit (installed on the first, restarted on a new revision), then the activation.
   */
  const up = async (ref: string, first: boolean): Promise<ScriptResult> => {
    // The origin is root's and git refuses another owner's repository: daedalus fetches from its own copy.
    await inside("rm -rf /srv/served.git && cp -r /srv/origin.git /srv/served.git && chown -R daedalus:daedalus /srv/served.git");
    await asDaedalus(gitCheckoutScript({ url: "file:///srv/served.git", ref, directory: "/srv/daedalus/repo", directoryMode: "0750" }));
    await must("daedalus-release-command");
    await asDaedalus(
      [...releaseLines({ root: DAEDALUS_ROOT, repository: DAEDALUS_REPO, keep: 3 }), `mkdir -p "$release/venv/bin" "$release/frontend/build"`, `cat > "$release/venv/bin/uvicorn" <<'EOF'\n${STAND_IN}EOF`, `chmod 0755 "$release/venv/bin/uvicorn"`, `echo '<!doctype html>' > "$release/frontend/build/index.html"`].join("\n"),
    );
    if (first) {
      await must("daedalus-api-unit");
      await must("daedalus-api-restart");
      await must("daedalus-api-enable");
    } else {
      await must("daedalus-api-restart");
    }
    return runCmd("daedalus-activate-command");
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
    expect(port).toBeGreaterThan(0);

    srv = mkdtempSync(join(tmpdir(), "fleet-releases-"));
    chmodSync(srv, 0o755);
    origin = testRepository(srv, "origin");
    systemd = await bootSystemd(`fleet-releases-${process.pid}`, [{ source: srv, target: "/srv" }]);
    await must("daedalus-user-useradd");
    await must("daedalus-dirs-install");
    await must("daedalus-env");
  }, 300_000);

  afterAll(async () => {
    await systemd?.stop();
    if (srv) rmSync(srv, { recursive: true, force: true });
  }, 120_000);

  it("v1 goes live through current and answers; v2, unhealthy, is swapped back and v1 answers again; v3 goes live", async () => {
    const v1 = origin.commit("main", { "backend/api/health": '{"status": "ok", "version": "v1"}\n' }, "v1");
    origin.tag("v1");
    const first = await up("v1", true);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`fleet: Daedalus: release ${v1.slice(0, 12)} is live and healthy on puck`);
    expect(await serving()).toBe('{"status": "ok", "version": "v1"}\n');
    expect((await inside("readlink /srv/daedalus/current")).trim()).toBe(`releases/${v1.slice(0, 12)}`);

    const v2 = origin.commit("main", { "backend/api/health": '{"status": "error", "version": "v2"}\n' }, "v2");
    origin.tag("v2");
    const pidBefore = (await inside("systemctl show -P MainPID daedalus-api.service")).trim();
    const second = await up("v2", false);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`fleet: check api-health failed on puck: release ${v2.slice(0, 12)} of Daedalus is not healthy`);
    expect(second.stderr).toContain(`fleet: Daedalus: rolled back: current -> release ${v1.slice(0, 12)} again, restarted; release ${v1.slice(0, 12)} serves`);
    // systemd really ran v2 (its health said error), and runs v1 again: asked over HTTP.
    expect(second.stdout + second.stderr).toContain('"version": "v2"');
    expect(await serving()).toBe('{"status": "ok", "version": "v1"}\n');
    expect((await inside("readlink /srv/daedalus/current")).trim()).toBe(`releases/${v1.slice(0, 12)}`);
    expect((await inside("systemctl show -P MainPID daedalus-api.service")).trim()).not.toBe(pidBefore);

    const v3 = origin.commit("main", { "backend/api/health": '{"status": "ok", "version": "v3"}\n' }, "v3");
    origin.tag("v3");
    const third = await up("v3", false);
    expect(third.code).toBe(0);
    expect(await serving()).toBe('{"status": "ok", "version": "v3"}\n');
    expect((await inside("cat /srv/daedalus/releases/.previous")).trim()).toBe(v1.slice(0, 12));
    // keep 3: v3 live, v1 before it, v2 the newest other.
    expect((await inside("ls /srv/daedalus/releases")).split("\n").filter(Boolean).sort()).toEqual([v1, v2, v3].map((c) => c.slice(0, 12)).sort());
  });
});
