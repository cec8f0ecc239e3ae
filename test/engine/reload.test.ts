/**
 * One reload per daemon per deploy (issue 15), with the real engine against the test
 * hosts: N apps, each an NginxSite on puck and an HAProxyRoute to it on titania behind one
 * HAProxyFrontend. Reloads are counted on the hosts themselves (a shim in front of the
 * daemons' binaries, test/engine/audit.ts), SSH sessions from sshd's log.
 *
 * The steps run in order and build on each other, as an operator's runs do.
 */
import * as pulumi from "@pulumi/pulumi";
import { type PulumiFn } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HAProxyFrontend, HAProxyRoute } from "../../src/components/haproxy";
import { HealthCheck } from "../../src/components/health";
import { NginxSite } from "../../src/components/nginx";
import { fleetProgram } from "../../src/remote/command";
import { defineHost } from "../../src/remote/host";
import { startDns } from "../e2e/dns";
import { ADDRESSES, type Fleet, type HostName, startHosts } from "../e2e/harness";
import { PID_FILES } from "../e2e/program";
import { fileText, files } from "../e2e/probes";
import { type Counted, installReloadCounters, sessions, since } from "./audit";
import { type EngineStack, engineStack, ops } from "./engine";

const HOSTS: HostName[] = ["titania", "puck"];
const APPS = 5;

interface Knobs {
  /** The body each app's site answers with, by app index. */
  readonly bodies: readonly string[];
  /** Apps whose site file is replaced by one nginx refuses (through the transform hook). */
  readonly broken?: readonly number[];
}

const body = (i: number, v: number) => `app${i} v${v} via nginx on puck`;
const INITIAL: Knobs = { bodies: Array.from({ length: APPS }, (_, i) => body(i, 1)) };

function program(fleet: Fleet, k: Knobs): PulumiFn {
  return fleetProgram(() => {
    const key = pulumi.secret(fleet.hosts.titania.privateKey);
    const host = (name: HostName) => defineHost(name, { address: ADDRESSES[name], hostKey: fleet.hosts[name].hostKey, services: "direct", pidFiles: { ...PID_FILES } }, key);
    const titania = host("titania");
    const puck = host("puck");
    const frontend = new HAProxyFrontend("titania", { host: titania, httpBind: `${ADDRESSES.titania}:80`, nameservers: [{ address: "127.0.0.1", port: 53 }] });
    let previous: NginxSite | undefined;
    let last: HealthCheck | undefined;
    for (let i = 0; i < APPS; i++) {
      const app = `app${i}`;
      const port = 18000 + i;
      // Each site after the previous one: a refused file is always written after the ones before it.
      const site: NginxSite = new NginxSite(
        `${app}-site`,
        {
          host: puck,
          site: app,
          listen: port,
          address: ADDRESSES.puck,
          locations: [{ path: "/", returnStatus: 200, returnBody: k.bodies[i]! }],
          ...(k.broken?.includes(i) ? { transform: { config: { stdin: `server {\n    frobnicate on;\n}\n` } } } : {}),
        },
        previous ? { dependsOn: [previous] } : {},
      );
      previous = site;
      const route = new HAProxyRoute(app, { host: titania, backend: app, domains: [`${app}.fleet.test`], healthPath: "/", servers: [{ name: "puck", address: "puck.incus", port }] }, { dependsOn: [frontend, site] });
      // Probes the route through HAProxy once: only a live route answers (no retries to hide a missing reload).
      last = new HealthCheck(`${app}-health`, { host: titania, url: "http://titania.incus/", headers: { Host: `${app}.fleet.test` }, bodyMatch: `^${k.bodies[i]!}$`, attempts: 1 }, { dependsOn: [route] });
    }
    // A check's result as a stack output: Pulumi awaits it after the batches have closed.
    return Promise.resolve({ lastProbe: last!.result });
  });
}

describe("one reload per daemon per deploy, with the real engine", () => {
  let fleet: Fleet;
  let engine: EngineStack;
  let reloads: (d: Counted) => Promise<number>;
  const counts = async () => ({ haproxy: await reloads("haproxy"), nginx: await reloads("nginx") });
  const served = async (i: number) => (await fleet.curl("puck", "http://titania.incus/", { headers: { Host: `app${i}.fleet.test` }, timeoutMs: 5_000 })).body;

  beforeAll(async () => {
    fleet = await startHosts({ names: HOSTS });
    await startDns(fleet, "titania");
    reloads = await installReloadCounters(fleet);
    engine = await engineStack("fleet-reloads", program(fleet, INITIAL));
  });

  afterAll(async () => {
    engine?.dispose();
    await fleet?.teardown();
  });

  it("first up: every file written, exactly one HAProxy and one nginx reload, every app served through HAProxy (each health check probed once), a check's result exported", async () => {
    const r0 = await counts();
    const u = await engine.up(program(fleet, INITIAL));
    expect(Object.keys(ops(u))).toEqual(["create"]);
    expect(ops(u).create).toEqual(expect.arrayContaining(["titania-haproxy-reload", "puck-nginx-reload"]));
    const r1 = await counts();
    expect({ haproxy: r1.haproxy - r0.haproxy, nginx: r1.nginx - r0.nginx }).toEqual({ haproxy: 1, nginx: 1 });
    for (let i = 0; i < APPS; i++) expect(await served(i)).toBe(INITIAL.bodies[i]);
    // The stack exports the last check's result (a resource after the reloads): no hang.
    expect(String((await engine.stack.outputs()).lastProbe?.value)).toMatch(/^fleet: healthy: .* answered 200$/);
  });

  it("no-op up: every resource same, no SSH session on any host, no reload", async () => {
    const s0 = sessions(fleet);
    const r0 = await counts();
    const u = await engine.up(program(fleet, INITIAL));
    expect(Object.keys(ops(u))).toEqual(["same"]);
    expect(since(fleet, s0)).toEqual({});
    expect(await counts()).toEqual(r0);
  });

  it("two sites changed: their files and nginx's reload update, one nginx reload, no HAProxy reload", async () => {
    const k: Knobs = { bodies: INITIAL.bodies.map((b, i) => (i === 1 || i === 3 ? body(i, 2) : b)) };
    const p = await engine.preview(program(fleet, k));
    expect(ops(p).update).toEqual(["app1-health-check", "app1-site-config", "app3-health-check", "app3-site-config", "puck-nginx-reload"]);
    const r0 = await counts();
    const s0 = sessions(fleet);
    const u = await engine.up(program(fleet, k));
    expect(ops(u).update).toEqual(["app1-health-check", "app1-site-config", "app3-health-check", "app3-site-config", "puck-nginx-reload"]);
    const r1 = await counts();
    expect({ haproxy: r1.haproxy - r0.haproxy, nginx: r1.nginx - r0.nginx }).toEqual({ haproxy: 0, nginx: 1 });
    // Two files and one reload on puck; the two checks on titania.
    expect(since(fleet, s0)).toEqual({ puck: 3, titania: 2 });
    expect(await served(1)).toBe(body(1, 2));
    expect(await served(3)).toBe(body(3, 2));
  });

  it("a later file refused: up fails naming it, the earlier file stays on disk (validated) but nothing is reloaded, so nginx serves what it served; the next up makes it live with one reload", async () => {
    const live: Knobs = { bodies: INITIAL.bodies.map((b, i) => (i === 1 || i === 3 ? body(i, 2) : b)) };
    const k: Knobs = { bodies: live.bodies.map((b, i) => (i === 0 ? body(0, 3) : b)), broken: [2] };
    const [before2] = await files(fleet, "puck", ["/etc/nginx/conf.d/app2.conf"]);
    const r0 = await counts();
    const f = await engine.upFailing(program(fleet, k));
    expect(f.error).toContain("fleet: nginx -t refused /etc/nginx/conf.d/app2.conf on puck; previous version restored, nginx not reloaded");
    expect(f.error).toContain("frobnicate");
    // On disk: app0's new version (accepted: the whole config validated with it), app2 as before.
    expect(await fileText(fleet, "puck", "/etc/nginx/conf.d/app0.conf")).toContain(body(0, 3));
    expect((await files(fleet, "puck", ["/etc/nginx/conf.d/app2.conf"]))[0]?.content).toBe(before2?.content);
    const v = await fleet.exec("puck", ["nginx", "-t", "-q"]);
    expect(v.code, v.stderr).toBe(0);
    // Served: what nginx ran before the deploy, for every app.
    expect(await counts()).toEqual(r0);
    for (let i = 0; i < APPS; i++) expect(await served(i)).toBe(live.bodies[i]);

    // Fixed: app2 back to a valid file; app0's change goes live in the same single reload.
    const fixed: Knobs = { bodies: k.bodies };
    const u = await engine.up(program(fleet, fixed));
    expect(ops(u).update).toEqual(expect.arrayContaining(["puck-nginx-reload"]));
    const r1 = await counts();
    expect({ haproxy: r1.haproxy - r0.haproxy, nginx: r1.nginx - r0.nginx }).toEqual({ haproxy: 0, nginx: 1 });
    for (let i = 0; i < APPS; i++) expect(await served(i)).toBe(fixed.bodies[i]);
    const p = await engine.preview(program(fleet, fixed));
    expect(Object.keys(ops(p))).toEqual(["same"]);
  });

  it("destroy completes and takes every app away with one reload per daemon: the reload resources hold the reloads, each removal is validated, the last-reload resources reload once after the last", async () => {
    const r0 = await counts();
    const d = await engine.destroy(program(fleet, INITIAL));
    expect(Object.keys(ops(d))).toEqual(["delete"]);
    // A backend and a map per route plus haproxy.cfg put back, a site per app: before
    // the hold, 2N+1 HAProxy and N nginx reloads.
    const r1 = await counts();
    expect({ haproxy: r1.haproxy - r0.haproxy, nginx: r1.nginx - r0.nginx }).toEqual({ haproxy: 1, nginx: 1 });
    for (const [h, lock] of [["titania", "haproxy"], ["puck", "nginx"]] as const) {
      const left = await fleet.exec(h, ["find", `/etc/${lock}`, "/run/lock", "(", "-name", "*.fleet-live", "-o", "-name", "*.fleet-prev", "-o", "-name", "*.fleet-new", "-o", "-name", "*.pending", "-o", "-name", "*.held", ")"]);
      expect(left.stdout, `${h}: bookkeeping left`).toBe("");
    }
    const left = await fleet.exec("puck", ["/bin/sh", "-c", "ls /etc/nginx/conf.d"]);
    expect(left.stdout).toBe("");
    expect((await fleet.curl("puck", "http://titania.incus/", { headers: { Host: "app0.fleet.test" } })).status).toBe(503);
  });
});
