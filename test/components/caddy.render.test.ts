import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  type CaddyRouteSpecInput,
  type CaddySiteSpecInput,
  caddyLayoutSchema,
  caddyPaths,
  caddyRouteCheckScript,
  caddyRouteDir,
  caddyRouteFile,
  caddyRouteSchema,
  caddyServerSchema,
  caddySiteFile,
  caddySiteSchema,
  renderCaddyRoute,
  renderCaddySite,
  renderCaddyfile,
} from "../../src/components/caddy";
import { expectValid, runTool, tempTree } from "../helpers/validators";

// ---------------------------------------------------------------------------
// Seeds (peregrine-cloud-deployment.md, "Routing (Caddy)", "Demo Instance", "Adding a New App").

const FALLBACK = "This app is not yet available in the managed cloud — check back soon.";

const menagerie: CaddySiteSpecInput = {
  site: "menagerie",
  addresses: ["menagerie.circuitforge.tech"],
  encode: ["gzip", "zstd"],
  fallback: { body: FALLBACK, status: 503 },
  log: { output: "/data/logs/menagerie.circuitforge.tech.log", format: "json" },
};

const peregrineCloud: CaddyRouteSpecInput = {
  route: "peregrine",
  path: "/peregrine*",
  upstreams: ["http://host.docker.internal:8505"],
  headerUp: [{ name: "X-CF-Session", value: "{header.Cookie}" }],
};

/** The demo runs separately on its own port; the seed does not name it, 8504 is assumed here. */
const demo: CaddySiteSpecInput = {
  site: "demo",
  addresses: ["demo.circuitforge.tech"],
  encode: ["gzip", "zstd"],
  log: { output: "/data/logs/demo.circuitforge.tech.log", format: "json" },
};
const peregrineDemo: CaddyRouteSpecInput = { route: "peregrine", path: "/peregrine*", upstreams: ["http://host.docker.internal:8504"] };

/** "Adding a New App": `handle /falcon*` in menagerie.circuitforge.tech, on the new app's port (assumed 8506). */
const falcon: CaddyRouteSpecInput = {
  route: "falcon",
  path: "/falcon*",
  upstreams: ["http://host.docker.internal:8506"],
  headerUp: [{ name: "X-CF-Session", value: "{header.Cookie}" }],
};

/** The seed's block as an operator wrote it in /devl/caddy-proxy/Caddyfile (indentation aside). */
const SEED_BLOCK = `menagerie.circuitforge.tech {
    encode gzip zstd

    handle /peregrine* {
        reverse_proxy http://host.docker.internal:8505 {
            header_up X-CF-Session {header.Cookie}
        }
    }

    handle {
        respond "${FALLBACK}" 503
    }

    log {
        output file /data/logs/menagerie.circuitforge.tech.log
        format json
    }
}
`;

// ---------------------------------------------------------------------------
// Harness: the rendered tree in a temp config dir; caddy's own storage kept in it too.

const cleanup: string[] = [];
afterAll(() => cleanup.forEach((d) => rmSync(d, { recursive: true, force: true })));

interface Tree {
  readonly dir: string;
  readonly caddyfile: string;
  readonly env: NodeJS.ProcessEnv;
}

/** The rendered Caddyfile, sites and routes under a fresh config dir, as CaddyServer/CaddySite/CaddyRoute would write them. */
function renderTree(sites: { site: CaddySiteSpecInput; routes: CaddyRouteSpecInput[] }[], server: Record<string, unknown>): Tree {
  const dir = mkdtempSync(path.join(tmpdir(), "fleet-caddy-"));
  cleanup.push(dir);
  const p = caddyPaths(caddyLayoutSchema.parse({ configDir: dir }));
  const files: Record<string, string> = {};
  files[p.host.caddyfile] = renderCaddyfile(caddyServerSchema.parse(server), p.caddy);
  for (const { site, routes } of sites) {
    const s = caddySiteSchema.parse(site);
    files[caddySiteFile(p.host, s.site)] = renderCaddySite(s, p.caddy);
    for (const r of routes) {
      const route = caddyRouteSchema.parse(r);
      files[caddyRouteFile(p.host, s.site, route.route)] = renderCaddyRoute(route, s.site);
    }
  }
  writeAll(files);
  return { dir, caddyfile: p.host.caddyfile, env: caddyEnv(dir) };
}

function writeAll(files: Record<string, string>): void {
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
}

function caddyEnv(dir: string): NodeJS.ProcessEnv {
  return { ...process.env, HOME: path.join(dir, ".home"), XDG_DATA_HOME: path.join(dir, ".data"), XDG_CONFIG_HOME: path.join(dir, ".config") };
}

function caddy(tree: Tree, ...args: string[]) {
  return runTool("caddy", args, { env: tree.env, cwd: tree.dir });
}

// ---------------------------------------------------------------------------

describe("Caddy renderers", () => {
  const layout = caddyLayoutSchema.parse({ configDir: "/etc/caddy" });
  const p = caddyPaths(layout);

  it("renders the seed's handle block for Peregrine, exactly", () => {
    expect(renderCaddyRoute(caddyRouteSchema.parse(peregrineCloud), "menagerie")).toBe(
      [
        "# Managed by pulumi-fleet. Local edits are overwritten on the next `pulumi up`.",
        "# route: peregrine (site: menagerie)",
        "handle /peregrine* {",
        "\trequest_body {",
        "\t\tmax_size 256MiB",
        "\t}",
        "\treverse_proxy http://host.docker.internal:8505 {",
        "\t\theader_up X-CF-Session {header.Cookie}",
        "\t\ttransport http {",
        "\t\t\tread_timeout 300s",
        "\t\t\twrite_timeout 300s",
        "\t\t}",
        "\t}",
        "}",
        "",
      ].join("\n"),
    );
  });

  it("writes the route's own limits, and no request_body for maxBodySize 0", () => {
    const route = (limits: object) => renderCaddyRoute(caddyRouteSchema.parse({ ...peregrineCloud, limits }), "menagerie");
    expect(route({ maxBodySize: "2g", readTimeout: "15m", sendTimeout: "1h" })).toContain(
      "\trequest_body {\n\t\tmax_size 2GiB\n\t}\n\treverse_proxy http://host.docker.internal:8505 {\n\t\theader_up X-CF-Session {header.Cookie}\n\t\ttransport http {\n\t\t\tread_timeout 15m\n\t\t\twrite_timeout 1h\n\t\t}\n",
    );
    expect(route({ maxBodySize: "0" })).not.toContain("request_body");
    expect(() => caddyRouteSchema.parse({ ...peregrineCloud, limits: { maxBodySize: "10MB" } })).toThrow(/limits.*maxBodySize|must be a size such as 512k, 256m or 2g/s);
  });

  it("renders the site block: encode, its routes imported, the fallback, the JSON log", () => {
    expect(renderCaddySite(caddySiteSchema.parse(menagerie), p.caddy)).toBe(
      [
        "# Managed by pulumi-fleet. Local edits are overwritten on the next `pulumi up`.",
        "# site: menagerie; routes: /etc/caddy/routes/menagerie/*.caddy",
        "menagerie.circuitforge.tech {",
        "\tencode gzip zstd",
        "",
        "\timport /etc/caddy/routes/menagerie/*.caddy",
        "",
        "\thandle {",
        `\t\trespond "${FALLBACK}" 503`,
        "\t}",
        "",
        "\tlog {",
        "\t\toutput file /data/logs/menagerie.circuitforge.tech.log",
        "\t\tformat json",
        "\t}",
        "}",
        "",
      ].join("\n"),
    );
  });

  it("renders the main Caddyfile with global options and imports", () => {
    const text = renderCaddyfile(
      caddyServerSchema.parse({ email: "ops@circuitforge.tech", admin: "off", imports: ["/etc/caddy/legacy/*.caddy"] }),
      p.caddy,
    );
    expect(text).toContain("{\n\temail ops@circuitforge.tech\n\tadmin off\n}\n");
    expect(text.endsWith("import /etc/caddy/legacy/*.caddy\nimport /etc/caddy/sites/*.caddy\n")).toBe(true);
    expect(renderCaddyfile(caddyServerSchema.parse({}), p.caddy)).not.toContain("{\n");
  });

  it("writes on the host's paths but points imports at the container's", () => {
    const c = caddyPaths(caddyLayoutSchema.parse({ configDir: "/devl/caddy-proxy", container: { name: "caddy-proxy" } }));
    expect(c.host).toEqual({ caddyfile: "/devl/caddy-proxy/Caddyfile", sitesDir: "/devl/caddy-proxy/sites", routesDir: "/devl/caddy-proxy/routes" });
    expect(c.caddy).toEqual({ caddyfile: "/etc/caddy/Caddyfile", sitesDir: "/etc/caddy/sites", routesDir: "/etc/caddy/routes" });
    expect(renderCaddySite(caddySiteSchema.parse(menagerie), c.caddy)).toContain("\timport /etc/caddy/routes/menagerie/*.caddy\n");
    expect(renderCaddyfile(caddyServerSchema.parse({}), c.caddy)).toContain("import /etc/caddy/sites/*.caddy\n");
  });

  it("handles several addresses and upstreams, stripped prefixes and quoted header values", () => {
    const site = renderCaddySite(caddySiteSchema.parse({ site: "multi", addresses: ["a.example.com", "b.example.com:8443"] }), p.caddy);
    expect(site).toContain("a.example.com, b.example.com:8443 {\n\timport /etc/caddy/routes/multi/*.caddy\n}\n");
    const route = renderCaddyRoute(
      caddyRouteSchema.parse({
        route: "api",
        path: "/api/*",
        stripPrefix: true,
        upstreams: ["10.0.0.1:9000", "10.0.0.2:9000"],
        headerUp: [
          { name: "X-Real-IP", value: "{remote_host}" },
          { name: "X-App", value: "fleet app {http.request.host}" },
          { name: "X-Tag", value: "#1" },
        ],
      }),
      "multi",
    );
    expect(route).toContain(
      '\treverse_proxy 10.0.0.1:9000 10.0.0.2:9000 {\n\t\theader_up X-App "fleet app {http.request.host}"\n\t\theader_up X-Real-IP {remote_host}\n\t\theader_up X-Tag "#1"\n\t\ttransport http {\n',
    );
    expect(route).toContain("handle_path /api/* {\n");
    expect(renderCaddyRoute(caddyRouteSchema.parse({ route: "x", path: "/x*", upstreams: ["127.0.0.1:1"] }), "multi")).toContain(
      "\treverse_proxy 127.0.0.1:1 {\n\t\ttransport http {\n",
    );
  });
});

describe("caddy validates the rendered tree", () => {
  it("the full Peregrine seed: menagerie (cloud + falcon) and the demo instance", () => {
    const tree = renderTree(
      [
        { site: menagerie, routes: [peregrineCloud, falcon] },
        { site: demo, routes: [peregrineDemo] },
      ],
      {},
    );
    expectValid(caddy(tree, "validate", "--config", tree.caddyfile, "--adapter", "caddyfile"), "Peregrine Caddy tree");
  });

  it("adapts to exactly the JSON of the seed's hand-written block plus the route's limits, as Caddy's docs write them", () => {
    const tree = renderTree([{ site: menagerie, routes: [peregrineCloud] }], {});
    const withLimits = SEED_BLOCK.replace(
      "    handle /peregrine* {\n        reverse_proxy http://host.docker.internal:8505 {\n            header_up X-CF-Session {header.Cookie}\n",
      "    handle /peregrine* {\n        request_body {\n            max_size 256MiB\n        }\n        reverse_proxy http://host.docker.internal:8505 {\n            header_up X-CF-Session {header.Cookie}\n" +
        "            transport http {\n                read_timeout 5m\n                write_timeout 5m\n            }\n",
    );
    expect(withLimits).not.toBe(SEED_BLOCK);
    const seed = tempTree({ Caddyfile: withLimits }, "fleet-caddy-seed-");
    cleanup.push(seed);
    const ours = caddy(tree, "adapt", "--config", tree.caddyfile, "--adapter", "caddyfile");
    const theirs = caddy(tree, "adapt", "--config", path.join(seed, "Caddyfile"), "--adapter", "caddyfile");
    expectValid(ours, "rendered tree");
    expectValid(theirs, "seed block");
    expect(JSON.parse(jsonOf(ours.output))).toEqual(JSON.parse(jsonOf(theirs.output)));
  });

  it("a server with no sites, and a site with no routes yet (import globs matching nothing)", () => {
    const empty = renderTree([], { admin: "off" });
    expectValid(caddy(empty, "validate", "--config", empty.caddyfile, "--adapter", "caddyfile"), "server without sites");
    const bare = renderTree([{ site: menagerie, routes: [] }], {});
    expectValid(caddy(bare, "validate", "--config", bare.caddyfile, "--adapter", "caddyfile"), "site without routes");
  });

  it("every rendered file is already caddy fmt clean", () => {
    const tree = renderTree([{ site: menagerie, routes: [peregrineCloud, falcon] }], { email: "ops@circuitforge.tech", admin: "off", autoHttps: "disable_redirects" });
    const p = caddyPaths(caddyLayoutSchema.parse({ configDir: tree.dir }));
    for (const file of [tree.caddyfile, caddySiteFile(p.host, "menagerie"), caddyRouteFile(p.host, "menagerie", "peregrine")]) {
      const formatted = caddy(tree, "fmt", file);
      expectValid(formatted, file);
      expect(formatted.output).toBe(readText(file));
    }
  });
});

describe("the duplicate-path check run after a route is written", () => {
  const run = (dir: string) => runTool("sh", ["-c", caddyRouteCheckScript(dir, "menagerie")]);

  it("passes for distinct paths and for an empty or missing directory", () => {
    const tree = renderTree([{ site: menagerie, routes: [peregrineCloud, falcon] }], {});
    const p = caddyPaths(caddyLayoutSchema.parse({ configDir: tree.dir }));
    expect(run(caddyRouteDir(p.host, "menagerie"))).toEqual({ code: 0, output: "" });
    expect(run(path.join(tree.dir, "routes", "nothing-here")).code).toBe(0);
  });

  it("fails naming the path when two routes handle it", () => {
    const tree = renderTree([{ site: menagerie, routes: [peregrineCloud, { ...falcon, path: "/peregrine*" }] }], {});
    const p = caddyPaths(caddyLayoutSchema.parse({ configDir: tree.dir }));
    expect(run(caddyRouteDir(p.host, "menagerie"))).toEqual({ code: 1, output: "fleet: a path of site menagerie is handled by two routes: /peregrine*\n" });
  });
});

// ---------------------------------------------------------------------------

function readText(file: string): string {
  return readFileSync(file, "utf8");
}

/** `caddy adapt` prints the JSON on stdout and log lines (JSON too) on stderr; runTool joins them. */
function jsonOf(output: string): string {
  const line = output.split("\n").find((l) => l.startsWith('{"apps"') || l.startsWith('{"admin"') || l.startsWith('{"logging"'));
  if (!line) throw new Error(`no adapted config in:\n${output}`);
  return line;
}
