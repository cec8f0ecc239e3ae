import { describe, expect, it } from "vitest";
import { runProgram } from "../helpers/pulumi";
import { testHost } from "../helpers/hosts";
import { HAProxyRoute } from "../../src/components/haproxy";

const route = {
  backend: "daedalus",
  domains: ["daedalus.ouranos.helu.ca"],
  healthPath: "/api/health",
  servers: [{ name: "puck", address: "puck.incus", port: 22181 }],
};

describe("HAProxyRoute", () => {
  it("writes a backend fragment and a map fragment, the map after the backend", async () => {
    const run = await runProgram(() => {
      new HAProxyRoute("daedalus", { host: testHost("titania"), ...route });
    });
    expect(run.names()).toEqual(["daedalus", "daedalus-backend", "daedalus-map"]);
    const backend = run.get("daedalus-backend");
    expect(backend.type).toBe("command:remote:Command");
    expect(backend.parentName).toBe("daedalus");
    expect(String(backend.inputs.stdin)).toContain("backend daedalus");
    expect(String(backend.inputs.stdin)).toContain("http-check send meth GET uri /api/health");
    expect(String(backend.inputs.create)).toContain("/etc/haproxy/conf.d/daedalus.cfg");
    expect(String(backend.inputs.create)).toContain("haproxy -c -q");
    expect(backend.inputs.triggers).toEqual(["titania.incus", 22, "/etc/haproxy/conf.d/daedalus.cfg"]);
    const map = run.get("daedalus-map");
    expect(String(map.inputs.stdin)).toContain("daedalus.ouranos.helu.ca daedalus");
    expect(map.opts.dependsOn).toEqual([expect.objectContaining({ __name: "daedalus-backend" })]);
  });

  it("refuses bad input before registering anything", async () => {
    let error: unknown;
    const run = await runProgram(() => {
      try {
        new HAProxyRoute("bad", {
          host: testHost("titania"),
          ...route,
          backend: "x'; rm -rf / #",
          servers: [{ name: "puck", address: "$(id)", port: 70000 }],
        });
      } catch (e) {
        error = e;
      }
    });
    expect(run.resources).toEqual([]);
    expect(String(error)).toContain('HAProxyRoute "bad" has 3 problems');
    expect(String(error)).toContain("backend: must start with a lowercase letter");
    expect(String(error)).toContain("servers/0/address: must be a DNS name");
    expect(String(error)).toContain("servers/0/port: must be between 1 and 65535");
  });
});
