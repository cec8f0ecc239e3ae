import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MockRun, leaves, runProgram } from "../helpers/pulumi";
import { testHost } from "../helpers/hosts";
import { runTool } from "../helpers/validators";
import { helperCallOf, runnable, componentNames, ownDependsOn, scriptText, refused } from "../helpers/inputs";
import {
  CaddyRoute,
  type CaddyRouteArgs,
  CaddyServer,
  type CaddyServerArgs,
  CaddySite,
  type CaddySiteArgs,
  caddyRouteSchema,
  caddySiteSchema,
  renderCaddyRoute,
  renderCaddySite,
} from "../../src/components/caddy";

const FALLBACK = "This app is not yet available in the managed cloud — check back soon.";
const menagerie = {
  site: "menagerie",
  addresses: ["menagerie.circuitforge.tech"],
  encode: ["gzip" as const, "zstd" as const],
  fallback: { body: FALLBACK, status: 503 },
  log: { output: "/data/logs/menagerie.circuitforge.tech.log", format: "json" as const },
};
const peregrine = {
  route: "peregrine",
  path: "/peregrine*",
  upstreams: ["http://host.docker.internal:8505"],
  headerUp: [{ name: "X-CF-Session", value: "{header.Cookie}" }],
};
const container = { configDir: "/devl/caddy-proxy", container: { name: "caddy-proxy", configDir: "/etc/caddy" } };

/**
 * An input of a recorded command; scripts are unwrapped from their `/bin/sh -c '…'` quoting
 * so assertions read the script as the host runs it.
 */
function str(run: MockRun, name: string, key: string): string {
  const value = String(run.get(name).inputs[key]);
  if (helperCallOf(value)) return scriptText(value);
  const m = /^\/bin\/sh -c '([\s\S]*)'$/.exec(value);
  return m ? m[1]!.replace(/'\\''/g, "'") : value;
}

describe("CaddyServer, CaddySite and CaddyRoute on host Caddy", () => {
  it("write the Caddyfile, the site and the route, each after the file that imports it", async () => {
    const run = await runProgram(() => {
      const server = new CaddyServer("caddy", { host: testHost("bastion"), email: "ops@circuitforge.tech" });
      const site = new CaddySite("menagerie", { server, ...menagerie });
      new CaddyRoute("peregrine", { site, ...peregrine });
    });
    expect(componentNames(run)).toEqual(["caddy", "caddy-caddyfile", "menagerie", "menagerie-site", "peregrine", "peregrine-fragment"]);
    expect(run.get("caddy").type).toBe("fleet:caddy:Server");
    expect(run.get("menagerie").type).toBe("fleet:caddy:Site");
    expect(run.get("peregrine").type).toBe("fleet:caddy:Route");
    for (const [child, parent] of [
      ["caddy-caddyfile", "caddy"],
      ["menagerie-site", "menagerie"],
      ["peregrine-fragment", "peregrine"],
    ] as const) {
      expect(run.get(child).type).toBe("command:remote:Command");
      expect(run.get(child).parentName).toBe(parent);
    }

    const caddyfile = str(run, "caddy-caddyfile", "create");
    expect(caddyfile).toContain("/etc/caddy/Caddyfile");
    expect(caddyfile).toContain("mkdir -p '/etc/caddy/sites' '/etc/caddy/routes'");
    expect(str(run, "caddy-caddyfile", "stdin")).toContain("\temail ops@circuitforge.tech\n");
    expect(str(run, "caddy-caddyfile", "stdin")).toContain("import /etc/caddy/sites/*.caddy\n");

    const site = run.get("menagerie-site");
    expect(str(run, "menagerie-site", "create")).toContain("/etc/caddy/sites/menagerie.caddy");
    expect(site.inputs.stdin).toBe(renderCaddySite(caddySiteSchema.parse(menagerie), { caddyfile: "/etc/caddy/Caddyfile", sitesDir: "/etc/caddy/sites", routesDir: "/etc/caddy/routes" }));
    expect(ownDependsOn(site)).toEqual(["caddy-caddyfile"]);

    const route = run.get("peregrine-fragment");
    expect(str(run, "peregrine-fragment", "create")).toContain("/etc/caddy/routes/menagerie/peregrine.caddy");
    expect(route.inputs.stdin).toBe(renderCaddyRoute(caddyRouteSchema.parse(peregrine), "menagerie"));
    expect(str(run, "peregrine-fragment", "create")).toContain("handled by two routes");
    expect(ownDependsOn(route)).toEqual(["menagerie-site"]);
    expect(route.inputs.triggers).toEqual(["host=bastion", "path=/etc/caddy/routes/menagerie/peregrine.caddy"]);

    for (const child of ["caddy-caddyfile", "menagerie-site", "peregrine-fragment"]) {
      const create = str(run, child, "create");
      // The whole Caddyfile is validated with literal flags, then systemd reloads.
      expect(create).toContain("caddy validate --config '/etc/caddy/Caddyfile' --adapter caddyfile");
      expect(create).toContain("systemctl reload caddy");
      expect(create).toContain("fleet-caddy.lock");
      expect(create).toContain('mv -f "$next" "$target"');
      expect(create).not.toContain("docker");
      expect(str(run, child, "delete")).toContain("caddy validate --config '/etc/caddy/Caddyfile' --adapter caddyfile");
      const secret = (await leaves(run.get(child).props)).filter((l) => l.secret).map((l) => l.path);
      expect(secret.filter((p) => !p.startsWith("connection."))).toEqual([]);
    }
  });

  it("a route on a site owned by another program: host and layout given, no ordering", async () => {
    const run = await runProgram(() => {
      new CaddyRoute("falcon", {
        site: "menagerie",
        host: testHost("bastion", { services: "direct" }),
        layout: { configDir: "/srv/caddy" },
        route: "falcon",
        path: "/falcon*",
        upstreams: ["http://host.docker.internal:8506"],
        transform: { fragment: { environment: { FLEET_TEST: "1" } } },
      });
    });
    expect(componentNames(run)).toEqual(["falcon", "falcon-fragment"]);
    const fragment = run.get("falcon-fragment");
    expect(str(run, "falcon-fragment", "create")).toContain("/srv/caddy/routes/menagerie/falcon.caddy");
    expect(str(run, "falcon-fragment", "create")).toContain("caddy reload --config '/srv/caddy/Caddyfile' --adapter caddyfile");
    expect(ownDependsOn(fragment)).toEqual([]);
    expect(fragment.inputs.environment).toEqual({ FLEET_TEST: "1" });
  });
});

describe("in the caddy-proxy container (Peregrine's menagerie)", () => {
  it("validates inside the container, restarts it, and rewrites every file in place", async () => {
    let site: CaddySite | undefined;
    const run = await runProgram(() => {
      const server = new CaddyServer("caddy", { host: testHost("bastion"), layout: container });
      site = new CaddySite("menagerie", { server, ...menagerie });
      new CaddyRoute("peregrine", { site, ...peregrine });
    });
    expect(site?.path).toBe("/devl/caddy-proxy/sites/menagerie.caddy");
    expect(site?.layout.container?.name).toBe("caddy-proxy");
    // Host paths are written; container paths are what Caddy reads.
    expect(str(run, "caddy-caddyfile", "create")).toContain("put '/devl/caddy-proxy/Caddyfile'");
    expect(str(run, "caddy-caddyfile", "stdin")).toContain("import /etc/caddy/sites/*.caddy\n");
    expect(str(run, "menagerie-site", "create")).toContain("put '/devl/caddy-proxy/sites/menagerie.caddy'");
    expect(str(run, "menagerie-site", "stdin")).toContain("\timport /etc/caddy/routes/menagerie/*.caddy\n");
    expect(str(run, "peregrine-fragment", "create")).toContain("put '/devl/caddy-proxy/routes/menagerie/peregrine.caddy'");
    for (const child of ["caddy-caddyfile", "menagerie-site", "peregrine-fragment"]) {
      const create = str(run, child, "create");
      expect(create).toContain("docker exec 'caddy-proxy' caddy validate --config '/etc/caddy/Caddyfile' --adapter caddyfile");
      expect(create).toContain("docker restart 'caddy-proxy' >/dev/null");
      expect(create).not.toContain("systemctl");
      expect(create).toContain("fleet-caddy-caddy-proxy.lock");
      // In place: same inode, as a single-file bind mount needs.
      expect(create).toContain('cat "$next" > "$target"');
      expect(create).not.toContain('else mv -f "$prev" "$target"');
    }
  });
});

// ---------------------------------------------------------------------------
// The generated scripts, run for real on this machine: real `caddy validate`, with a
// `docker` shim on PATH standing in for the caddy-proxy container (exec runs the
// command here, restart is recorded). Shows the in-place rewrite keeps the inode, a
// broken site never stays, and a second route on a taken path is refused.

describe("the generated scripts against real caddy (docker shimmed)", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "fleet-caddy-e2e-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const etc = path.join(dir, "etc");
  const bin = path.join(dir, "bin");
  const dockerLog = path.join(dir, "docker.log");
  function writeDockerShim(): void {
    mkdirSync(bin, { recursive: true });
    writeFileSync(
      path.join(bin, "docker"),
      [
        "#!/bin/sh",
        `case "$1" in`,
        `  exec) shift 2; exec "$@" ;;`,
        `  restart) echo "restart $2" >> ${dockerLog}; exit 0 ;;`,
        "esac",
        "exit 2",
        "",
      ].join("\n"),
    );
    chmodSync(path.join(bin, "docker"), 0o755);
  }
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}`, HOME: path.join(dir, "home"), XDG_DATA_HOME: path.join(dir, "data"), XDG_CONFIG_HOME: path.join(dir, "config") };
  const layout = { configDir: etc, container: { name: "caddy-proxy", configDir: etc } };

  async function program(): Promise<MockRun> {
    return runProgram(() => {
      const server = new CaddyServer("caddy", { host: testHost("bastion", { lockDir: path.join(dir, "lock") }), layout, admin: "off" });
      const site = new CaddySite("menagerie", { server, ...menagerie });
      new CaddyRoute("peregrine", { site, ...peregrine });
      new CaddyRoute("falcon", { site, ...peregrine, route: "falcon", path: "/falcon*", upstreams: ["http://host.docker.internal:8506"] });
      new CaddyRoute("thief", { site, ...peregrine, route: "thief", upstreams: ["http://host.docker.internal:9999"] });
    });
  }

  function apply(run: MockRun, name: string, stdin?: string) {
    const r = run.get(name);
    return runTool("sh", ["-c", runnable(r)], { input: stdin ?? String(r.inputs.stdin), env });
  }

  // The first deploy: server, site, then both routes, in dependency order.
  let run: MockRun;
  let first: { name: string; code: number; output: string }[] = [];
  beforeAll(async () => {
    writeDockerShim();
    run = await program();
    first = ["caddy-caddyfile", "menagerie-site", "peregrine-fragment", "falcon-fragment"].map((name) => ({ name, ...apply(run, name) }));
  });

  it("applies server, site and routes in order; a taken path is refused and removed again", () => {
    for (const r of first) expect(r, r.name).toEqual({ name: r.name, code: 0, output: expect.stringContaining("fleet: updated") });
    expect(readFileSync(dockerLog, "utf8")).toBe("restart caddy-proxy\n".repeat(4));
    const thief = apply(run, "thief-fragment");
    expect(thief.code).toBe(1);
    expect(thief.output).toContain("fleet: a path of site menagerie is handled by two routes: /peregrine*");
    expect(existsSync(path.join(etc, "routes/menagerie/thief.caddy"))).toBe(false);
    expect(readFileSync(dockerLog, "utf8")).toBe("restart caddy-proxy\n".repeat(4));
    // Unchanged content: nothing runs, nothing restarts.
    expect(apply(run, "peregrine-fragment").output).toContain("fleet: unchanged");
  });

  it("rewrites the Caddyfile in place and restores a site Caddy refuses", () => {
    const caddyfile = path.join(etc, "Caddyfile");
    const inode = statSync(caddyfile).ino;
    const changed = apply(run, "caddy-caddyfile", `${String(run.get("caddy-caddyfile").inputs.stdin)}# changed\n`);
    expect(changed.code).toBe(0);
    expect(statSync(caddyfile).ino).toBe(inode);
    expect(readFileSync(caddyfile, "utf8")).toContain("# changed\n");

    const siteFile = path.join(etc, "sites/menagerie.caddy");
    const before = readFileSync(siteFile, "utf8");
    const siteInode = statSync(siteFile).ino;
    const broken = apply(run, "menagerie-site", "menagerie.circuitforge.tech {\n\tno_such_directive\n}\n");
    expect(broken.code).toBe(1);
    expect(broken.output).toContain("no_such_directive");
    expect(broken.output).toContain(`fleet: caddy validate refused ${siteFile} on bastion; previous version restored, caddy in caddy-proxy not reloaded`);
    expect(readFileSync(siteFile, "utf8")).toBe(before);
    expect(statSync(siteFile).ino).toBe(siteInode);
  });

  it("deletes a route the same careful way", () => {
    const r = runTool("sh", ["-c", runnable(run.get("falcon-fragment"), "delete")], { env });
    expect(r).toEqual({ code: 0, output: expect.stringContaining("fleet: removed") });
    expect(existsSync(path.join(etc, "routes/menagerie/falcon.caddy"))).toBe(false);
  });
});

// ---------------------------------------------------------------------------
// Hostile and wrong input: refused with the component, the path and the rule, and
// nothing of the refused component registered.

type Case = [string, () => void, string];

const host = () => testHost("bastion");
const route = (extra: Partial<CaddyRouteArgs>) => () => void new CaddyRoute("bad", { site: "menagerie", host: host(), ...peregrine, ...extra });
const site = (extra: Partial<CaddySiteArgs>) => () => void new CaddySite("bad", { host: host(), ...menagerie, ...extra });
const server = (extra: Partial<CaddyServerArgs>) => () => void new CaddyServer("bad", { host: host(), ...extra });

const refusals: Case[] = [
  ["a shell-injection site slug", site({ site: "x'; rm -rf / #" }), `CaddySite "bad": site: must start with a lowercase letter and contain only a-z, 0-9 and '-'`],
  [
    "a site address that opens a block",
    site({ addresses: ["menagerie.circuitforge.tech {\n}\nevil.example.com"] }),
    `CaddySite "bad": addresses/0: must be a site address such as app.example.com, *.example.com, http://app.example.com:8080 or :8080`,
  ],
  [
    "an env placeholder in the fallback text",
    site({ fallback: { body: "secret: {env.CF_SERVER_SECRET}", status: 503 } }),
    `CaddySite "bad": fallback/body: must be one line without double quotes, backticks, backslashes or braces (Caddy would expand {placeholders})`,
  ],
  ["a fallback status out of range", site({ fallback: { body: "x", status: 99 } }), `CaddySite "bad": fallback/status: must be an HTTP status between 200 and 599`],
  ["a relative log file", site({ log: { output: "logs/x.log", format: "json" } }), `CaddySite "bad": log/output: must be stdout, stderr, discard or an absolute file path`],
  [
    "a header_up name with spaces",
    route({ headerUp: [{ name: "X CF Session", value: "{header.Cookie}" }] }),
    `CaddyRoute "bad": headerUp/0/name: must be an HTTP header name: a letter, then letters, digits and '-'`,
  ],
  [
    "a header_up value leaking the proxy's environment",
    route({ headerUp: [{ name: "X-CF-Session", value: "{env.CF_SERVER_SECRET}" }] }),
    `CaddyRoute "bad": headerUp/0/value: must be one line of text and request placeholders such as {header.Cookie} or {remote_host} (no quotes, backticks, backslashes, {env.*} or {file.*})`,
  ],
  [
    "a header_up value closing its block",
    route({ headerUp: [{ name: "X-A", value: "a\n}\nreverse_proxy evil:80 {" }] }),
    `CaddyRoute "bad": headerUp/0/value: must be one line of text and request placeholders such as {header.Cookie} or {remote_host} (no quotes, backticks, backslashes, {env.*} or {file.*})`,
  ],
  [
    "a header_up value starting with a backtick (a Caddyfile raw string that never ends: caddy fails on the host)",
    route({ headerUp: [{ name: "X-A", value: "`x" }] }),
    `CaddyRoute "bad": headerUp/0/value: must be one line of text and request placeholders such as {header.Cookie} or {remote_host} (no quotes, backticks, backslashes, {env.*} or {file.*})`,
  ],
  ["command substitution in an upstream", route({ upstreams: ["http://$(id):80"] }), `CaddyRoute "bad": upstreams/0: must be an upstream such as http://host.docker.internal:8505 or 127.0.0.1:8505 (no path)`],
  [
    "a path with a newline",
    route({ path: "/peregrine*\n}\nhandle {" }),
    `CaddyRoute "bad": path: must be a path matcher such as /peregrine* or /api/ (letters, digits and . _ ~ / @ : + , = -, optionally ending in *)`,
  ],
  ["an over-long route name", route({ route: `r${"x".repeat(70)}` }), `CaddyRoute "bad": route: must be at most 63 characters`],
  ["a site slug with a path", route({ site: "../../etc" }), `CaddyRoute "bad": site: must start with a lowercase letter and contain only a-z, 0-9 and '-'`],
  ["a route without a host for a slug site", () => void new CaddyRoute("bad", { site: "menagerie", ...peregrine }), `CaddyRoute "bad": host: is required when site is a slug`],
  [
    "a container name with a command",
    server({ layout: { container: { name: "caddy-proxy; reboot", configDir: "/etc/caddy" } } }),
    `CaddyServer "bad": layout/container/name: must be a container name: a letter or digit, then letters, digits and _ . -`,
  ],
  [
    "admin off for Caddy on the host",
    server({ admin: "off" }),
    `CaddyServer "bad": admin: must not be "off" for Caddy on the host: reloads go through the admin endpoint (off only suits a container that is restarted)`,
  ],
  ["an e-mail with a newline", server({ email: "ops@example.com\n}\n" }), `CaddyServer "bad": email: must be an e-mail address such as ops@example.com`],
  ["an import escaping the config dir", server({ imports: ["/etc/caddy/../../root/*.caddy"] }), `CaddyServer "bad": imports/0: must not contain '..' segments`],
];

describe("Caddy components refuse bad input before registering anything", () => {
  it.each(refusals)("%s", async (_what, build, message) => {
    const r = await refused(() => build());
    expect(r.run.resources).toEqual([]);
    expect(r.message).toBe(message);
  });

  it("lists every problem of a route at once", async () => {
    const r = await refused(() => {
      new CaddyRoute("bad", {
        site: "menagerie",
        layout: { configDir: "relative" },
        route: "peregrine",
        path: "/peregrine*",
        upstreams: ["127.0.0.1:8505", "127.0.0.1:8505"],
        headerUp: [
          { name: "X-CF-Session", value: "{header.Cookie}" },
          { name: "x-cf-session", value: "{remote_host}" },
        ],
      });
    });
    expect(r.run.resources).toEqual([]);
    expect(r.message).toBe(
      [
        `CaddyRoute "bad" has 4 problems:`,
        `  - headerUp/1/name: duplicate header "x-cf-session"`,
        `  - upstreams/1: duplicate upstream "127.0.0.1:8505"`,
        `  - host: is required when site is a slug`,
        `  - layout/configDir: must be an absolute path of letters, digits and . _ @ + - / (no spaces or shell metacharacters)`,
      ].join("\n"),
    );
  });

  it("refuses a host or layout beside a CaddySite or CaddyServer that already gives them", async () => {
    const site = await refused(() => {
      const srv = new CaddyServer("caddy", { host: host() });
      new CaddySite("bad-site", { server: srv, host: host(), layout: {}, ...menagerie, site: "other" });
    });
    const route = await refused(() => {
      const srv = new CaddyServer("caddy", { host: host() });
      const s = new CaddySite("menagerie", { server: srv, ...menagerie });
      new CaddyRoute("bad-route", { site: s, host: host(), ...peregrine });
    });
    expect([site.message, route.message]).toEqual([
      [
        `CaddySite "bad-site" has 2 problems:`,
        `  - host: must be omitted when server is set (the site lives on the server's host)`,
        `  - layout: must be omitted when server is set (the server's layout is used)`,
      ].join("\n"),
      `CaddyRoute "bad-route": host: must be omitted when site is a CaddySite (the route lives on the site's host)`,
    ]);
    expect([...site.run.names(), ...route.run.names()].filter((n) => n.startsWith("bad"))).toEqual([]);
  });

});
