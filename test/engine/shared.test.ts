/**
 * Two programs (two projects, each with its own state) sharing one daemon, with the real
 * engine (issue 15, item 1: "other programs' fragments on the same daemon are never lost
 * or left unreloaded"). Program A and program B each put nginx sites on puck through the
 * same helper and lock; reloads are counted on the host (test/engine/audit.ts).
 *
 * The steps run in order and build on each other.
 */
import * as pulumi from "@pulumi/pulumi";
import { type PulumiFn } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HealthCheck } from "../../src/components/health";
import { NginxSite } from "../../src/components/nginx";
import { fleetProgram } from "../../src/remote/command";
import { defineHost } from "../../src/remote/host";
import { ADDRESSES, type Fleet, startHosts } from "../e2e/harness";
import { PID_FILES } from "../e2e/program";
import { fileText } from "../e2e/probes";
import { installReloadCounters } from "./audit";
import { type EngineStack, engineStack, type Outcome } from "./engine";

type Name = "a" | "b";
const PORT: Record<Name, number> = { a: 18100, b: 18200 };
const SITES = 2;

interface Knobs {
  /** Version of each site's body, by index. */
  readonly versions: readonly number[];
  /** Sites whose file is replaced by one nginx refuses. */
  readonly broken?: readonly number[];
}

const body = (p: Name, i: number, v: number) => `${p}${i} v${v} via nginx on puck`;

/** Program `p`: SITES nginx sites on puck, each after the one before, each checked once live. */
function program(fleet: Fleet, p: Name, k: Knobs): PulumiFn {
  return fleetProgram(() => {
    const puck = defineHost("puck", { address: ADDRESSES.puck, hostKey: fleet.hosts.puck.hostKey, services: "direct", pidFiles: { ...PID_FILES } }, pulumi.secret(fleet.hosts.puck.privateKey));
    let previous: NginxSite | undefined;
    for (let i = 0; i < SITES; i++) {
      const site: NginxSite = new NginxSite(
        `${p}${i}-site`,
        {
          host: puck,
          site: `${p}${i}`,
          listen: PORT[p] + i,
          address: ADDRESSES.puck,
          locations: [{ path: "/", returnStatus: 200, returnBody: body(p, i, k.versions[i]!) }],
          ...(k.broken?.includes(i) ? { transform: { config: { stdin: `server {\n    frobnicate on;\n}\n` } } } : {}),
        },
        previous ? { dependsOn: [previous] } : {},
      );
      previous = site;
      new HealthCheck(`${p}${i}-health`, { host: puck, url: `http://${ADDRESSES.puck}:${PORT[p] + i}/`, bodyMatch: `^${body(p, i, k.versions[i]!)}$`, attempts: 1 }, { dependsOn: [site] });
    }
    return Promise.resolve({});
  });
}

const ops = (o: Outcome): string[] => [...new Set(o.steps.map((s) => s.op))].sort();

describe("two programs sharing one nginx, with the real engine", () => {
  let fleet: Fleet;
  const stacks: Partial<Record<Name, EngineStack>> = {};
  let nginxReloads: () => Promise<number>;
  const served = async (p: Name, i: number) => (await fleet.curl("puck", `http://${ADDRESSES.puck}:${PORT[p] + i}/`, { timeoutMs: 5_000 })).body;
  const servedAll = async (p: Name) => Promise.all(Array.from({ length: SITES }, (_, i) => served(p, i)));
  const bodies = (p: Name, versions: readonly number[]) => versions.map((v, i) => body(p, i, v));

  beforeAll(async () => {
    // titania too: the reload counters shim HAProxy there as well.
    fleet = await startHosts({ names: ["titania", "puck"] });
    const counters = await installReloadCounters(fleet);
    nginxReloads = () => counters("nginx");
    stacks.a = await engineStack("fleet-shared-a", program(fleet, "a", { versions: [1, 1] }));
    stacks.b = await engineStack("fleet-shared-b", program(fleet, "b", { versions: [1, 1] }));
  });

  afterAll(async () => {
    stacks.a?.dispose();
    stacks.b?.dispose();
    await fleet?.teardown();
  });

  it("A, then B: each deploy reloads nginx once; A's sites survive B's deploy and both are served", async () => {
    const r0 = await nginxReloads();
    expect(ops(await stacks.a!.up(program(fleet, "a", { versions: [1, 1] })))).toEqual(["create"]);
    expect(await nginxReloads()).toBe(r0 + 1);
    expect(ops(await stacks.b!.up(program(fleet, "b", { versions: [1, 1] })))).toEqual(["create"]);
    expect(await nginxReloads()).toBe(r0 + 2);
    expect(await servedAll("a")).toEqual(bodies("a", [1, 1]));
    expect(await servedAll("b")).toEqual(bodies("b", [1, 1]));
  });

  it("A's deploy fails on a refused file after writing another: A's accepted file waits; B's next deploy's one reload makes it live with B's own change; A's fixed deploy then reloads once", async () => {
    const r0 = await nginxReloads();
    const f = await stacks.a!.upFailing(program(fleet, "a", { versions: [2, 2], broken: [1] }));
    expect(f.error).toContain("fleet: nginx -t refused /etc/nginx/conf.d/a1.conf on puck; previous version restored, nginx not reloaded");
    expect(await fileText(fleet, "puck", "/etc/nginx/conf.d/a0.conf")).toContain(body("a", 0, 2));
    expect(await nginxReloads()).toBe(r0);
    expect(await servedAll("a")).toEqual(bodies("a", [1, 1]));

    // B's deploy: one reload, of everything waiting on the daemon, A's accepted file included.
    const u = await stacks.b!.up(program(fleet, "b", { versions: [2, 1] }));
    expect(u.log).toContain("fleet: reloaded nginx on puck for /etc/nginx/conf.d/a0.conf /etc/nginx/conf.d/b0.conf");
    expect(await nginxReloads()).toBe(r0 + 1);
    expect(await servedAll("b")).toEqual(bodies("b", [2, 1]));
    expect(await servedAll("a")).toEqual(bodies("a", [2, 1]));

    // A fixed: its a1 change and its reload (a0 unchanged since A's failed run: its stdin in the state is the old one).
    await stacks.a!.up(program(fleet, "a", { versions: [2, 2] }));
    expect(await nginxReloads()).toBe(r0 + 2);
    expect(await servedAll("a")).toEqual(bodies("a", [2, 2]));
    expect(await servedAll("b")).toEqual(bodies("b", [2, 1]));
    expect(ops(await stacks.a!.preview(program(fleet, "a", { versions: [2, 2] })))).toEqual(["same"]);
    expect(ops(await stacks.b!.preview(program(fleet, "b", { versions: [2, 1] })))).toEqual(["same"]);
  });

  it("destroying B reloads nginx once and leaves A's sites on disk and served", async () => {
    const r0 = await nginxReloads();
    expect(ops(await stacks.b!.destroy(program(fleet, "b", { versions: [2, 1] })))).toEqual(["delete"]);
    expect(await nginxReloads()).toBe(r0 + 1);
    expect(await servedAll("a")).toEqual(bodies("a", [2, 2]));
    const left = await fleet.exec("puck", ["/bin/sh", "-c", "ls /etc/nginx/conf.d"]);
    expect(left.stdout.split("\n").filter(Boolean)).toEqual(["a0.conf", "a1.conf"]);
    expect((await fleet.curl("puck", `http://${ADDRESSES.puck}:${PORT.b}/`, { timeoutMs: 5_000 })).status).not.toBe(200);
    // A is untouched: nothing to do.
    expect(ops(await stacks.a!.preview(program(fleet, "a", { versions: [2, 2] })))).toEqual(["same"]);
  });
});
