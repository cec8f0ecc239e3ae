/**
 * An HAProxy route deployed as two resources (`<route>-backend`, `<route>-map` with the map
 * fragment at `hosts.d/<backend>.map`, the shape before issue 15 item 2) upgraded to the one
 * resource of today (`<route>-files`, aliased to `<route>-backend`), with the real engine
 * against the test hosts: the backend resource is updated in place (never replaced), the old
 * map resource's delete removes only the old map fragment, and every route keeps answering
 * through the real HAProxy. The steps run in order and build on each other.
 */
import * as pulumi from "@pulumi/pulumi";
import { type PulumiFn } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  HAProxyFrontend,
  HAProxyRoute,
  haproxyAssembleScript,
  haproxyBackendPath,
  haproxyLayoutSchema,
  haproxyMapFragmentPath,
  haproxyRouteSchema,
  renderHaproxyBackend,
  renderHaproxyMapFragment,
} from "../../src/components/haproxy";
import { NginxSite } from "../../src/components/nginx";
import { fleetProgram, remoteFile } from "../../src/remote/command";
import { haproxy } from "../../src/remote/daemons";
import { defineHost, type Host } from "../../src/remote/host";
import { startDns } from "../e2e/dns";
import { ADDRESSES, type Fleet, type HostName, startHosts } from "../e2e/harness";
import { PID_FILES } from "../e2e/program";
import { fileText } from "../e2e/probes";
import { type Counted, installReloadCounters, sessions, since } from "./audit";
import { type EngineStack, engineStack, ops } from "./engine";

const HOSTS: HostName[] = ["titania", "puck"];
const APPS = 2;
const LAYOUT = haproxyLayoutSchema.parse({});
const OLD_MAP = (backend: string) => `${LAYOUT.mapFragments}/${backend}.map`;

/** The route as it was deployed before: same component type and names, two file resources. */
class TwoResourceRoute extends pulumi.ComponentResource {
  constructor(name: string, host: Host, spec: { backend: string; domain: string; port: number }, opts: pulumi.ComponentResourceOptions) {
    super(HAProxyRoute.__pulumiType, name, {}, opts);
    const route = haproxyRouteSchema.parse({ backend: spec.backend, domains: [spec.domain], healthPath: "/", servers: [{ name: "puck", address: "puck.incus", port: spec.port }] });
    const daemon = haproxy(host.spec, LAYOUT);
    const root = { owner: "root", group: "root", mode: "0644" };
    const backend = remoteFile(`${name}-backend`, { host, daemon, target: { path: haproxyBackendPath(LAYOUT, spec.backend), ...root }, content: renderHaproxyBackend(route) }, { parent: this });
    remoteFile(
      `${name}-map`,
      { host, daemon, target: { path: OLD_MAP(spec.backend), ...root, assemble: haproxyAssembleScript(LAYOUT) }, content: renderHaproxyMapFragment(route) },
      { parent: this, dependsOn: [backend] },
    );
    this.registerOutputs({});
  }
}

function program(fleet: Fleet, shape: "two resources" | "one resource"): PulumiFn {
  return fleetProgram(() => {
    const key = pulumi.secret(fleet.hosts.titania.privateKey);
    const host = (name: HostName) => defineHost(name, { address: ADDRESSES[name], hostKey: fleet.hosts[name].hostKey, services: "direct", pidFiles: { ...PID_FILES } }, key);
    const titania = host("titania");
    const puck = host("puck");
    const frontend = new HAProxyFrontend("titania", { host: titania, httpBind: `${ADDRESSES.titania}:80`, nameservers: [{ address: "127.0.0.1", port: 53 }] });
    for (let i = 0; i < APPS; i++) {
      const app = `app${i}`;
      const port = 18100 + i;
      const site = new NginxSite(`${app}-site`, { host: puck, site: app, listen: port, address: ADDRESSES.puck, locations: [{ path: "/", returnStatus: 200, returnBody: `${app} via nginx` }] });
      const spec = { backend: app, domain: `${app}.fleet.test`, port };
      if (shape === "two resources") new TwoResourceRoute(app, titania, spec, { dependsOn: [frontend, site] });
      else new HAProxyRoute(app, { host: titania, backend: app, domains: [spec.domain], healthPath: "/", servers: [{ name: "puck", address: "puck.incus", port }] }, { dependsOn: [frontend, site] });
    }
  });
}

describe("an HAProxy route deployed as two resources, upgraded to one, with the real engine", () => {
  let fleet: Fleet;
  let engine: EngineStack;
  let reloads: (d: Counted) => Promise<number>;
  const served = async (i: number) => {
    const r = await fleet.curl("puck", "http://titania.incus/", { headers: { Host: `app${i}.fleet.test` }, timeoutMs: 5_000 });
    return `${r.status} ${r.body}`;
  };
  const exists = async (path: string) => (await fleet.exec("titania", ["test", "-e", path])).code === 0;

  beforeAll(async () => {
    fleet = await startHosts({ names: HOSTS });
    await startDns(fleet, "titania");
    reloads = await installReloadCounters(fleet);
    engine = await engineStack("fleet-route-upgrade", program(fleet, "two resources"));
  });

  afterAll(async () => {
    engine?.dispose();
    await fleet?.teardown();
  });

  it("the two-resource routes are deployed and serve", async () => {
    const u = await engine.up(program(fleet, "two resources"));
    expect(Object.keys(ops(u))).toEqual(["create"]);
    expect(ops(u).create).toEqual(expect.arrayContaining(["app0-backend", "app0-map", "app1-backend", "app1-map"]));
    for (let i = 0; i < APPS; i++) expect(await served(i)).toBe(`200 app${i} via nginx`);
    expect(await exists(OLD_MAP("app0"))).toBe(true);
  });

  it("the upgrade updates each backend resource in place (now writing both files), deletes each old map resource, and every route keeps serving", async () => {
    const h0 = await reloads("haproxy");
    const u = await engine.up(program(fleet, "one resource"));
    const o = ops(u);
    expect(o.replace ?? [], "nothing replaced").toEqual([]);
    expect(o["create-replacement"] ?? []).toEqual([]);
    expect(o.update).toEqual(expect.arrayContaining(["app0-files", "app1-files"]));
    // And the installer of titania's HAProxy helper without the host-map assemble step, which
    // only the backend resources used: a route's two files are now one call of the map's
    // helper. An installer has no delete command: nothing runs on the host.
    const installer = /^titania-fleet-haproxy-[0-9a-f]{12}$/;
    expect((o.delete ?? []).filter((n) => !installer.test(n))).toEqual(["app0-map", "app1-map"]);
    expect((o.delete ?? []).filter((n) => installer.test(n))).toHaveLength(1);
    expect(o.create ?? []).toEqual([]);
    for (let i = 0; i < APPS; i++) {
      expect(await served(i)).toBe(`200 app${i} via nginx`);
      expect(await exists(OLD_MAP(`app${i}`)), "the old map fragment is gone").toBe(false);
      expect(await exists(haproxyMapFragmentPath(LAYOUT, `app${i}`))).toBe(true);
      expect(await exists(haproxyBackendPath(LAYOUT, `app${i}`)), "the backend fragment stays").toBe(true);
    }
    expect(await fileText(fleet, "titania", LAYOUT.map)).toBe("app0.fleet.test app0\napp1.fleet.test app1\n");
    // The deploy's one reload, then one per old map resource's delete (its command is in the
    // state and reloads at once): paid once, on this up.
    expect((await reloads("haproxy")) - h0).toBe(1 + APPS);
  });

  it("then a no-op up: every resource same, no SSH session, no reload", async () => {
    const s0 = sessions(fleet);
    const h0 = await reloads("haproxy");
    const u = await engine.up(program(fleet, "one resource"));
    expect(Object.keys(ops(u))).toEqual(["same"]);
    expect(since(fleet, s0)).toEqual({});
    expect(await reloads("haproxy")).toBe(h0);
  });

  it("and destroy takes both files of every route away with one HAProxy reload", async () => {
    const h0 = await reloads("haproxy");
    const d = await engine.destroy(program(fleet, "one resource"));
    expect(Object.keys(ops(d))).toEqual(["delete"]);
    expect((await reloads("haproxy")) - h0).toBe(1);
    for (let i = 0; i < APPS; i++) {
      expect(await exists(haproxyMapFragmentPath(LAYOUT, `app${i}`))).toBe(false);
      expect(await exists(haproxyBackendPath(LAYOUT, `app${i}`))).toBe(false);
      expect((await served(i)).startsWith("503 ")).toBe(true);
    }
  });
});
