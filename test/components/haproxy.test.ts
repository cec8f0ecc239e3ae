import { describe, expect, it } from "vitest";
import { runProgram } from "../helpers/pulumi";
import { testHost } from "../helpers/hosts";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import {
  HAProxyRoute,
  haproxyAssembleScript,
  haproxyFrontendSchema,
  haproxyLayoutSchema,
  haproxyRouteSchema,
  renderHaproxyBackend,
  renderHaproxyMain,
  renderHaproxyMapFragment,
} from "../../src/components/haproxy";
import { expectValid, runTool } from "../helpers/validators";

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
    expect(String(backend.inputs.create)).toContain("haproxy -c -f");
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

describe("haproxyAssembleScript (run for real)", () => {
  function setup() {
    const dir = mkdtempSync(path.join(tmpdir(), "fleet-hx-"));
    const layout = haproxyLayoutSchema.parse({ config: `${dir}/haproxy.cfg`, fragments: `${dir}/conf.d`, mapFragments: `${dir}/hosts.d`, map: `${dir}/hosts.map` });
    mkdirSync(layout.fragments);
    mkdirSync(layout.mapFragments);
    writeFileSync(layout.config, "backend fleet_no_route\n");
    return { dir, layout };
  }

  it("builds the host map from every fragment", () => {
    const { layout } = setup();
    writeFileSync(`${layout.fragments}/a.cfg`, "backend a\n");
    writeFileSync(`${layout.fragments}/b.cfg`, "backend b\n");
    writeFileSync(`${layout.mapFragments}/a.map`, "# route: a\na.example.com a\n");
    writeFileSync(`${layout.mapFragments}/b.map`, "b.example.com b\n");
    execFileSync("/bin/sh", ["-c", haproxyAssembleScript(layout)]);
    expect(readFileSync(layout.map, "utf8")).toBe("a.example.com a\nb.example.com b\n");
  });

  it("refuses a map routing to a backend no config defines (haproxy -c cannot see it)", () => {
    const { layout } = setup();
    writeFileSync(layout.map, "kept\n");
    writeFileSync(`${layout.mapFragments}/a.map`, "a.example.com ghost\n");
    expect(() => execFileSync("/bin/sh", ["-c", haproxyAssembleScript(layout)], { stdio: "pipe" })).toThrow(
      "the host map routes to backend ghost, which no config defines",
    );
    expect(readFileSync(layout.map, "utf8")).toBe("kept\n");
  });

  it("refuses a domain claimed by two routes", () => {
    const { layout } = setup();
    writeFileSync(`${layout.fragments}/a.cfg`, "backend a\n");
    writeFileSync(`${layout.fragments}/b.cfg`, "backend b\n");
    writeFileSync(`${layout.mapFragments}/a.map`, "x.example.com a\n");
    writeFileSync(`${layout.mapFragments}/b.map`, "x.example.com b\n");
    expect(() => execFileSync("/bin/sh", ["-c", haproxyAssembleScript(layout)], { stdio: "pipe" })).toThrow("domain claimed by two routes: x.example.com");
  });
});

describe("HAProxy renderers pass haproxy -c", () => {
  it("main config with TLS frontend and a route fragment", () => {
    const { dir, layout } = setup2();
    const fe = haproxyFrontendSchema.parse({ https: { certDir: `${dir}/certs` }, chroot: false, user: null, adminSocket: `${dir}/admin.sock` });
    const route = haproxyRouteSchema.parse({ backend: "daedalus", domains: ["daedalus.ouranos.helu.ca"], healthPath: "/api/health", servers: [{ name: "puck", address: "puck.incus", port: 22181 }] });
    writeFileSync(layout.config, renderHaproxyMain(fe, layout));
    writeFileSync(`${layout.fragments}/daedalus.cfg`, renderHaproxyBackend(route));
    writeFileSync(`${layout.mapFragments}/daedalus.map`, renderHaproxyMapFragment(route));
    execFileSync("/bin/sh", ["-c", haproxyAssembleScript(layout)]);
    const r = runTool("haproxy", ["-c", "-f", layout.config, "-f", layout.fragments]);
    expectValid(r, "haproxy config");
    expect(r.output).toContain("Configuration file is valid");
  });

  function setup2() {
    const dir = mkdtempSync(path.join(tmpdir(), "fleet-hxv-"));
    const layout = haproxyLayoutSchema.parse({ config: `${dir}/haproxy.cfg`, fragments: `${dir}/conf.d`, mapFragments: `${dir}/hosts.d`, map: `${dir}/hosts.map` });
    mkdirSync(layout.fragments);
    mkdirSync(layout.mapFragments);
    mkdirSync(`${dir}/certs`);
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", `${dir}/k.pem`, "-out", `${dir}/c.pem`, "-days", "2", "-subj", "/CN=test"], { stdio: "ignore" });
    writeFileSync(`${dir}/certs/test.pem`, readFileSync(`${dir}/c.pem`, "utf8") + readFileSync(`${dir}/k.pem`, "utf8"));
    return { dir, layout };
  }
});
