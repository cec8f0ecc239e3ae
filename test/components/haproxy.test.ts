import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runProgram } from "../helpers/pulumi";
import { testHost } from "../helpers/hosts";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import * as http from "node:http";
import * as net from "node:net";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import {
  denyRules,
  HAProxyFrontend,
  HAProxyRoute,
  haproxyAssembleScript,
  haproxyMapFragmentPath,
  haproxyFrontendSchema,
  haproxyLayoutSchema,
  haproxyRouteSchema,
  renderHaproxyBackend,
  renderHaproxyMain,
  renderHaproxyMapFragment,
} from "../../src/components/haproxy";
import { writeSelfSigned } from "../helpers/certs";
import { expectValid, runTool } from "../helpers/validators";
import { METRICS_NEIGHBOURS, METRICS_SPELLINGS } from "./haproxy-paths";
import { bundleParts, componentNames, dependsOn, isHelperInstaller, scriptText, refused, shellWords } from "../helpers/inputs";
import { freePort } from "../helpers/net";

const route = {
  backend: "daedalus",
  domains: ["daedalus.ouranos.helu.ca"],
  healthPath: "/api/health",
  servers: [{ name: "puck", address: "puck.incus", port: 22181 }],
};

describe("HAProxyRoute", () => {
  it("writes the backend fragment, then the map fragment, in one command (one SSH session), each file's content shown in its stdin", async () => {
    const run = await runProgram(() => {
      new HAProxyRoute("daedalus", { host: testHost("titania"), ...route });
    });
    expect(componentNames(run)).toEqual(["daedalus", "daedalus-files"]);
    const files = run.get("daedalus-files");
    expect(files.type).toBe("command:remote:Command");
    expect(files.parentName).toBe("daedalus");
    expect(files.files.map((f) => f.target.path)).toEqual(["/etc/haproxy/conf.d/daedalus.cfg", "/etc/haproxy/hosts.d/daedalus.route.map"]);
    const parts = bundleParts(String(files.inputs.stdin));
    expect([...parts.keys()]).toEqual(["/etc/haproxy/conf.d/daedalus.cfg", "/etc/haproxy/hosts.d/daedalus.route.map"]);
    expect(parts.get("/etc/haproxy/conf.d/daedalus.cfg")).toBe(renderHaproxyBackend(haproxyRouteSchema.parse(route)));
    expect(parts.get("/etc/haproxy/hosts.d/daedalus.route.map")).toBe("# route: daedalus\ndaedalus.ouranos.helu.ca daedalus\n");
    // One helper call for both files (one transaction: one whole-config check), the backend
    // first; delete removes the map first. The helper is the map's: its assemble runs once.
    const calls = (which: string) => {
      const [verb, ...rest] = shellWords(String(files.inputs[which])).slice(1);
      return [rest[0], ...rest.filter((_, i) => rest[i - 1] === "--and")].map((p) => [verb, p]);
    };
    expect(String(files.inputs.create)).not.toContain("&&");
    expect(calls("create")).toEqual([["put", "/etc/haproxy/conf.d/daedalus.cfg"], ["put", "/etc/haproxy/hosts.d/daedalus.route.map"]]);
    expect(calls("update")).toEqual(calls("create"));
    expect(calls("delete")).toEqual([["rm", "/etc/haproxy/hosts.d/daedalus.route.map"], ["rm", "/etc/haproxy/conf.d/daedalus.cfg"]]);
    expect(String(files.inputs.create).split(" --and ").every((c) => c.endsWith(" --bundled --set"))).toBe(true);
    // One set: a map fragment whose directory moved (layout.mapFragments) is removed by the
    // update that writes it elsewhere; delete forgets the set.
    expect(String(files.inputs.update).split(" --and ").every((c) => c.endsWith(" --set"))).toBe(true);
    expect(String(files.inputs.delete).split(" --and ").every((c) => c.endsWith(" --set"))).toBe(true);
    expect(scriptText(String(files.inputs.create))).toContain("haproxy -c -f");
    expect(scriptText(String(files.inputs.create))).toContain("mv -f '/etc/haproxy/hosts.map.fleet-assemble' '/etc/haproxy/hosts.map'");
    // The identity of the resource that wrote the backend before (same triggers, an alias to its
    // name): an existing deployment updates it in place, never replaces it.
    expect(files.inputs.triggers).toEqual(["host=titania", "path=/etc/haproxy/conf.d/daedalus.cfg"]);
    expect(files.opts.aliases).toEqual([{ name: "daedalus-backend" }]);
  });

  it("applies the files hook and the older backend and map hooks to the one command", async () => {
    const seen: string[] = [];
    const run = await runProgram(() => {
      new HAProxyRoute("daedalus", {
        host: testHost("titania"),
        ...route,
        transform: { files: () => seen.push("files"), backend: () => seen.push("backend"), map: { logging: "none" } },
      });
    });
    expect(seen).toEqual(["files", "backend"]);
    expect(run.get("daedalus-files").inputs.logging).toBe("none");
  });

  it("refuses bad input before registering anything", async () => {
    const r = await refused(() => {
      new HAProxyRoute("bad", {
        host: testHost("titania"),
        ...route,
        backend: "x'; rm -rf / #",
        servers: [{ name: "puck", address: "$(id)", port: 70000 }],
      });
    });
    expect(r.run.resources).toEqual([]);
    expect(r.message).toContain('HAProxyRoute "bad" has 3 problems');
    expect(r.message).toContain("backend: must start with a lowercase letter");
    expect(r.message).toContain("servers/0/address: must be a DNS name");
    expect(r.message).toContain("servers/0/port: must be between 1 and 65535");
  });
});

describe("HAProxyFrontend and HAProxyRoute on one host", () => {
  it("share one file helper (one installer, one SSH session and a third of the state fewer): both run the map's assemble step", async () => {
    const run = await runProgram(() => {
      const host = testHost("titania");
      const frontend = new HAProxyFrontend("titania", { host });
      new HAProxyRoute("daedalus", { host, ...route }, { dependsOn: [frontend] });
      new HAProxyRoute("mnemosyne", { host, ...route, backend: "mnemosyne", domains: ["mnemosyne.ouranos.helu.ca"] }, { dependsOn: [frontend] });
    });
    const installers = run.names().filter(isHelperInstaller);
    expect(installers).toEqual([expect.stringMatching(/^titania-fleet-haproxy-[0-9a-f]{12}$/)]);
    for (const name of ["titania-config", "daedalus-files", "mnemosyne-files"]) {
      expect(dependsOn(run.get(name)).filter(isHelperInstaller), name).toEqual(installers);
    }
    expect(scriptText(String(run.get("titania-config").inputs.create))).toContain("mv -f '/etc/haproxy/hosts.map.fleet-assemble' '/etc/haproxy/hosts.map'");
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

  it("reads each fragment on its own (no final newline does not join the next) and skips what is not a file", () => {
    const { layout } = setup();
    writeFileSync(`${layout.fragments}/a.cfg`, "backend a");
    writeFileSync(`${layout.fragments}/b.cfg`, "# b\nbackend b\n");
    mkdirSync(`${layout.fragments}/c.cfg`);
    writeFileSync(`${layout.mapFragments}/a.route.map`, "a.example.com a");
    writeFileSync(`${layout.mapFragments}/b.route.map`, "b.example.com b\n");
    mkdirSync(`${layout.mapFragments}/c.route.map`);
    execFileSync("/bin/sh", ["-c", haproxyAssembleScript(layout)]);
    expect(readFileSync(layout.map, "utf8")).toBe("a.example.com a\nb.example.com b\n");
  });

  it("from nothing (the main config's first deploy): creates the fragment directories and an empty map", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "fleet-hx-"));
    const layout = haproxyLayoutSchema.parse({ config: `${dir}/haproxy.cfg`, fragments: `${dir}/conf.d`, mapFragments: `${dir}/hosts.d`, map: `${dir}/hosts.map` });
    writeFileSync(layout.config, "backend fleet_no_route\n");
    execFileSync("/bin/sh", ["-c", haproxyAssembleScript(layout)]);
    expect(readFileSync(layout.map, "utf8")).toBe("");
    expect(statSync(layout.fragments).isDirectory() && statSync(layout.mapFragments).isDirectory()).toBe(true);
  });

  it("an empty line in a fragment does not hide a backend no config defines", () => {
    const { layout } = setup();
    writeFileSync(`${layout.fragments}/a.cfg`, "backend a\n");
    writeFileSync(`${layout.mapFragments}/a.map`, "\na.example.com a\nb.example.com ghost\n");
    expect(() => execFileSync("/bin/sh", ["-c", haproxyAssembleScript(layout)], { stdio: "pipe" })).toThrow(
      "the host map routes to backend ghost, which no config defines",
    );
  });

  it("names a domain claimed twice before a backend that is not defined, and leaves the live map", () => {
    const { layout } = setup();
    writeFileSync(layout.map, "kept\n");
    writeFileSync(`${layout.fragments}/b.cfg`, "backend b\n");
    writeFileSync(`${layout.mapFragments}/a.map`, "a.example.com ghost\nx.example.com b\n");
    writeFileSync(`${layout.mapFragments}/b.map`, "x.example.com c\n");
    let err = "";
    try {
      execFileSync("/bin/sh", ["-c", haproxyAssembleScript(layout)], { stdio: "pipe" });
    } catch (e) {
      err = String((e as { stderr?: Buffer }).stderr);
    }
    expect(err).toBe("fleet: domain claimed by two routes: x.example.com\n");
    expect(readFileSync(layout.map, "utf8")).toBe("kept\n");
    expect(existsSync(`${layout.map}.fleet-assemble`)).toBe(false);
  });

  it("takes an identical line once: a route's old <backend>.map beside its <backend>.route.map, until the old resource's delete removes it", () => {
    const { layout } = setup();
    writeFileSync(`${layout.fragments}/a.cfg`, "backend a\n");
    writeFileSync(`${layout.mapFragments}/a.map`, "# route: a\nx.example.com a\n");
    writeFileSync(`${layout.mapFragments}/a.route.map`, "# route: a\nx.example.com a\n");
    execFileSync("/bin/sh", ["-c", haproxyAssembleScript(layout)]);
    expect(readFileSync(layout.map, "utf8")).toBe("x.example.com a\n");
  });
});

describe("HAProxy renderers pass haproxy -c", () => {
  it("main config with TLS frontend and a route fragment", () => {
    const { dir, layout } = setup2();
    const fe = haproxyFrontendSchema.parse({ https: { certDir: `${dir}/certs` }, chroot: false, user: null, adminSocket: `${dir}/admin.sock` });
    const route = haproxyRouteSchema.parse({ backend: "daedalus", domains: ["daedalus.ouranos.helu.ca"], healthPath: "/api/health", servers: [{ name: "puck", address: "puck.incus", port: 22181 }] });
    writeFileSync(layout.config, renderHaproxyMain(fe, layout));
    writeFileSync(`${layout.fragments}/daedalus.cfg`, renderHaproxyBackend(route));
    writeFileSync(haproxyMapFragmentPath(layout, "daedalus"), renderHaproxyMapFragment(route));
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
    writeSelfSigned("test", `${dir}/certs/test.pem`);
    return { dir, layout };
  }
});

/** Send one raw HTTP/1.1 request (no client-side normalisation) and return the status. */
function rawStatus(port: number, target: string, host = "daedalus.ouranos.helu.ca", body?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1");
    let data = "";
    sock.setTimeout(5000, () => sock.destroy(new Error(`timeout for ${target}`)));
    const request =
      body === undefined
        ? `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`
        : `POST ${target} HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${Buffer.byteLength(body, "latin1")}\r\nConnection: close\r\n\r\n${body}`;
    sock.on("connect", () => sock.write(request, "latin1"));
    sock.on("data", (d) => (data += d.toString("latin1")));
    sock.on("error", reject);
    sock.on("end", () => {
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(data);
      if (m) resolve(Number(m[1]));
      else reject(new Error(`no status line for ${target}: ${JSON.stringify(data.slice(0, 80))}`));
    });
  });
}


describe("denyPaths: refused on the decoded, normalised path by the real HAProxy", () => {
  const denied = haproxyRouteSchema.parse({ ...route, denyPaths: ["/metrics"] });

  it("the rendered backend with denyPaths passes haproxy -c and carries one rule set per path", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "fleet-hxd-"));
    const layout = haproxyLayoutSchema.parse({ config: `${dir}/haproxy.cfg`, fragments: `${dir}/conf.d`, mapFragments: `${dir}/hosts.d`, map: `${dir}/hosts.map` });
    mkdirSync(layout.fragments);
    const fe = haproxyFrontendSchema.parse({ chroot: false, user: null, adminSocket: `${dir}/admin.sock`, nameservers: [{ address: "127.0.0.1" }] });
    const two = haproxyRouteSchema.parse({ ...route, denyPaths: ["/metrics", "/admin/.hidden/"] });
    writeFileSync(layout.config, renderHaproxyMain(fe, layout));
    writeFileSync(`${layout.fragments}/daedalus.cfg`, renderHaproxyBackend(two));
    writeFileSync(layout.map, "daedalus.ouranos.helu.ca daedalus\n");
    expectValid(runTool("haproxy", ["-c", "-f", layout.config, "-f", layout.fragments]), "haproxy config");
    expect(denyRules(["/metrics"])).toEqual([
      "    http-request deny deny_status 400 if { path -m sub % } !{ path,url_dec -m found }",
      "    http-request deny deny_status 400 if { path -m sub %00 }",
      "    http-request deny deny_status 403 if { path,url_dec -m reg -i ^(/[.]?)*/metrics([/;]|$) }",
      "    http-request deny deny_status 403 if { path,url_dec -m reg (^|/)[.][.](/|$) } { path,url_dec -m sub -i metrics }",
    ]);
    expect(renderHaproxyBackend(two)).toContain("    http-request deny deny_status 403 if { path,url_dec -m reg -i ^(/[.]?)*/admin(/[.]?)*/[.]hidden([/;]|$) }\n");
  });

  it.each([
    ["/metrics?x", "must be a plain path such as /metrics: segments of letters, digits and . _ ~ - (no '%', '?', '//' or bare '/')"],
    ["/%6detrics", "must be a plain path such as /metrics: segments of letters, digits and . _ ~ - (no '%', '?', '//' or bare '/')"],
    ["/", "must be a plain path such as /metrics: segments of letters, digits and . _ ~ - (no '%', '?', '//' or bare '/')"],
    ["//metrics", "must be a plain path such as /metrics: segments of letters, digits and . _ ~ - (no '%', '?', '//' or bare '/')"],
    ["/x/../metrics", "must not contain '.' or '..' segments"],
  ])("refuses the deny path %s", (p, message) => {
    const r = haproxyRouteSchema.safeParse({ ...route, denyPaths: [p] });
    expect(r.success ? [] : r.error.issues.map((i) => `${i.path.join("/")}: ${i.message}`)).toEqual([`denyPaths/0: ${message}`]);
  });

  describe("HAProxy on loopback in front of a backend that answers every path", () => {
    let haproxy: ChildProcess | undefined;
    let backend: http.Server | undefined;
    let port = 0;

    beforeAll(async () => {
      backend = http.createServer((req, res) => res.end(`backend saw ${req.url ?? ""}`));
      await new Promise<void>((resolve) => backend!.listen(0, "127.0.0.1", resolve));
      const backendPort = (backend.address() as net.AddressInfo).port;
      port = await freePort();
      const dir = mkdtempSync(path.join(tmpdir(), "fleet-hxl-"));
      const layout = haproxyLayoutSchema.parse({ config: `${dir}/haproxy.cfg`, fragments: `${dir}/conf.d`, mapFragments: `${dir}/hosts.d`, map: `${dir}/hosts.map` });
      mkdirSync(layout.fragments);
      mkdirSync(layout.mapFragments);
      const fe = haproxyFrontendSchema.parse({ httpBind: `127.0.0.1:${port}`, chroot: false, user: null, adminSocket: `${dir}/admin.sock`, nameservers: [{ address: "127.0.0.1" }] });
      const live = haproxyRouteSchema.parse({ ...denied, limits: { maxBodySize: "1k" }, servers: [{ name: "local", address: "127.0.0.1", port: backendPort }] });
      writeFileSync(layout.config, renderHaproxyMain(fe, layout));
      writeFileSync(`${layout.fragments}/daedalus.cfg`, renderHaproxyBackend(live));
      writeFileSync(`${layout.mapFragments}/daedalus.map`, renderHaproxyMapFragment(live));
      execFileSync("/bin/sh", ["-c", haproxyAssembleScript(layout)]);
      haproxy = spawn("haproxy", ["-db", "-f", layout.config, "-f", layout.fragments], { stdio: "ignore" });
      for (let i = 0; i < 100; i++) {
        if (await rawStatus(port, "/").then((s) => s === 200, () => false)) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error("HAProxy on loopback never answered 200 for /");
    });

    afterAll(async () => {
      haproxy?.kill("SIGTERM");
      await new Promise<void>((resolve) => (backend ? backend.close(() => resolve()) : resolve()));
    });

    it.each([...METRICS_SPELLINGS, "http://daedalus.ouranos.helu.ca/metrics", "http://daedalus.ouranos.helu.ca//%6detrics"])("refuses %s", async (target) => {
      expect(await rawStatus(port, target)).toBeOneOf([400, 403]);
    });

    it.each(METRICS_NEIGHBOURS)("still forwards %s", async (target) => {
      expect(await rawStatus(port, target)).toBe(200);
    });

    it("answers 413 for a body over the route's maxBodySize (1k) and forwards one at the limit", async () => {
      expect(await rawStatus(port, "/upload", undefined, "x".repeat(1025))).toBe(413);
      expect(await rawStatus(port, "/upload", undefined, "x".repeat(1024))).toBe(200);
    });
  });
});
