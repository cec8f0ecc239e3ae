/**
 * The registered shape of one reload per daemon per deploy (issue 15), under mocks, for a
 * program run through `fleetProgram` (as under the real engine): files are written with `--defer`, one
 * `<host>-<lock>-reload` per host and daemon runs `<helper> reload` with a sorted
 * `sha256  path` line per file as stdin, and checks run after the reloads. The real
 * engine's behaviour is in test/engine/reload.test.ts.
 */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { HAProxyFrontend, HAProxyRoute } from "../../src/components/haproxy";
import { HealthCheck } from "../../src/components/health";
import { NginxSite } from "../../src/components/nginx";
import { sha256 } from "../../src/hash";
import { fleetProgram, remoteTask } from "../../src/remote/command";
import { defineHost } from "../../src/remote/host";
import { type MockRun, runProgram, TEST_HOST_KEY, TEST_PRIVATE_KEY } from "../../src/testing/mocks";
import { command, ownDependsOn } from "../helpers/inputs";

/** The program; `fleet` runs it through `fleetProgram` (batched reloads), as the real stacks do. */
function build(fleet = true): Promise<MockRun> {
  const program = () => {
    const key = TEST_PRIVATE_KEY;
    const puck = defineHost("puck", { address: "10.0.0.2", hostKey: TEST_HOST_KEY }, key);
    const titania = defineHost("titania", { address: "10.0.0.1", hostKey: TEST_HOST_KEY }, key);
    const frontend = new HAProxyFrontend("titania", { host: titania });
    for (const app of ["b", "a"]) {
      const site = new NginxSite(`${app}-site`, { host: puck, site: app, listen: app === "a" ? 8001 : 8002, locations: [{ path: "/", returnStatus: 200, returnBody: app }] });
      const route = new HAProxyRoute(app, { host: titania, backend: app, domains: [`${app}.test`], healthPath: "/", servers: [{ name: "puck", address: "puck.incus", port: 8001 }] }, { dependsOn: [frontend, site] });
      new HealthCheck(`${app}-health`, { host: titania, url: "http://titania.incus/", headers: { Host: `${app}.test` } }, { dependsOn: [route] });
    }
  };
  return runProgram(fleet ? fleetProgram(program) : program);
}

describe("one reload per daemon per deploy: what the program registers", () => {
  it("files write with --defer; one reload per host and daemon, its stdin one sorted line per file; checks after the reloads", async () => {
    const run = await build();
    const reloads = run.names().filter((n) => n.endsWith("-reload")).sort();
    expect(reloads).toEqual(["puck-nginx-last-reload", "puck-nginx-reload", "titania-haproxy-last-reload", "titania-haproxy-reload"]);

    const site = command(run, "a-site-config");
    expect(site.inputs.create).toMatch(/ put '\/etc\/nginx\/conf\.d\/a\.conf' .* --keep-original --defer$/);
    expect(site.inputs.update).toMatch(/ --defer$/);
    // A removal waits for the last reload only while the reloads are held (a destroy).
    expect(site.inputs.delete).toMatch(/ rm '\/etc\/nginx\/conf\.d\/a\.conf' --defer$/);

    const nginx = command(run, "puck-nginx-reload");
    expect(nginx.inputs.create).toMatch(/^'\/var\/lib\/fleet\/bin\/fleet-nginx-[0-9a-f]{12}' reload$/);
    expect(nginx.inputs.update).toBe(nginx.inputs.create);
    // Deleted first in a destroy (it depends on every file): holds nginx's reloads.
    expect(nginx.inputs.delete).toMatch(/^'\/var\/lib\/fleet\/bin\/fleet-nginx-[0-9a-f]{12}' hold$/);
    // Deleted last (every file depends on it): the one reload after the last removal.
    const last = command(run, "puck-nginx-last-reload");
    expect(last.inputs.create).toBeUndefined();
    expect(last.inputs.delete).toBe(nginx.inputs.create);
    for (const f of ["a-site-config", "b-site-config"]) expect(ownDependsOn(command(run, f))).toEqual(["puck-nginx-last-reload"]);
    const content = (name: string) => String(command(run, name).inputs.stdin);
    expect(nginx.inputs.stdin).toBe(
      [`${sha256(content("a-site-config"))}  /etc/nginx/conf.d/a.conf`, `${sha256(content("b-site-config"))}  /etc/nginx/conf.d/b.conf`].sort().join("\n") + "\n",
    );
    const haproxy = command(run, "titania-haproxy-reload");
    const lines = String(haproxy.inputs.stdin).trimEnd().split("\n");
    expect(lines).toEqual([...lines].sort());
    expect(lines.map((l) => l.split("  ")[1]).sort()).toEqual(["/etc/haproxy/conf.d/a.cfg", "/etc/haproxy/conf.d/b.cfg", "/etc/haproxy/haproxy.cfg", "/etc/haproxy/hosts.d/a.route.map", "/etc/haproxy/hosts.d/b.route.map"]);
    // A check waits for every reload registered before it (test/engine/reload.test.ts proves it live).
    const deps = await Promise.all((command(run, "a-health-check").opts.dependsOn as unknown[]).map((d) => Promise.resolve(d)));
    const names = deps.flat().map((d) => (d as { __name?: string }).__name);
    expect(names).toEqual(expect.arrayContaining(["puck-nginx-reload", "titania-haproxy-reload"]));
  });

  it("a program not run through fleetProgram reloads each file on its own (the e2e suite runs files one by one)", async () => {
    const run = await build(false);
    expect(run.names().filter((n) => n.endsWith("-reload"))).toEqual([]);
    expect(command(run, "a-site-config").inputs.create).not.toContain("--defer");
  });

  it("a stack may export what a check found and build on a check: the batches close when the program function returns, before Pulumi awaits its outputs", async () => {
    const run = await runProgram(
      fleetProgram(() => {
        const key = TEST_PRIVATE_KEY;
        const puck = defineHost("puck", { address: "10.0.0.2", hostKey: TEST_HOST_KEY }, key);
        const site = new NginxSite("a-site", { host: puck, site: "a", listen: 8001, locations: [{ path: "/", returnStatus: 200, returnBody: "a" }] });
        const check = new HealthCheck("a-health", { host: puck, url: "http://127.0.0.1:8001/" }, { dependsOn: [site] });
        // Registered after the check and depending on it: its outputs wait for the reload too.
        const after = remoteTask("after-check", { host: puck, run: { body: "true" } }, { dependsOn: [check] });
        // Exported: Pulumi awaits these before the stack's own outputs settle.
        return { probe: check.result, afterId: after.id, late: pulumi.output(check.result).apply((r) => `seen ${r}`) };
      }),
      { commandStdout: (name) => (name === "a-health-check" ? "ok 200" : undefined) },
    );
    expect(run.names().filter((n) => n.endsWith("-reload"))).toEqual(["puck-nginx-reload", "puck-nginx-last-reload"]);
    expect(run.outputs).toEqual({ probe: "ok 200", afterId: "after-check-id", late: "seen ok 200" });
  });
});
