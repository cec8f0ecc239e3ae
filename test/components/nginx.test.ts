import { describe, expect, it } from "vitest";
import { leaves, runProgram } from "../helpers/pulumi";
import { testHost } from "../helpers/hosts";
import { NginxSite, type NginxSiteArgs, nginxSiteSchema, renderNginxSite } from "../../src/components/nginx";
import { componentNames, scriptText, refused, managedFile } from "../helpers/inputs";

const daedalus = {
  site: "daedalus",
  listen: 22181,
  root: "/srv/daedalus/frontend/build",
  spa: true,
  locations: [
    { path: "/api/", proxyPass: "http://127.0.0.1:8000" },
    { path: "/metrics", proxyPass: "http://127.0.0.1:8000", allow: ["10.10.0.0/24", "172.16.0.0/12", "127.0.0.0/8"] },
  ],
};

describe("NginxSite", () => {
  it("writes conf.d/<site>.conf, validated with nginx -t and reloaded through systemd", async () => {
    const run = await runProgram(() => {
      new NginxSite("daedalus", { host: testHost("puck"), ...daedalus });
    });
    expect(componentNames(run)).toEqual(["daedalus", "daedalus-config"]);
    expect(run.get("daedalus").type).toBe("fleet:nginx:Site");
    const config = run.get("daedalus-config");
    expect(config.type).toBe("command:remote:Command");
    expect(config.parentName).toBe("daedalus");
    expect(config.inputs.stdin).toBe(renderNginxSite(nginxSiteSchema.parse(daedalus)));
    const create = scriptText(String(config.inputs.create));
    expect(create).toContain("/etc/nginx/conf.d/daedalus.conf");
    expect(create).toContain("nginx -t -q");
    expect(create).toContain("systemctl reload nginx");
    expect(create).toContain("fleet-nginx.lock");
    expect(create).toContain("fleet_validate()");
    expect(scriptText(String(config.inputs.delete))).toContain("nginx -t -q");
    expect(config.inputs.triggers).toEqual(["host=puck", "path=/etc/nginx/conf.d/daedalus.conf"]);
    expect(config.inputs.logging).toBe("stdoutAndStderr");
    // Nothing here is secret, and nothing is marked so by accident.
    const secret = (await leaves(config.props)).filter((l) => l.secret).map((l) => l.path);
    expect(secret).toContain("connection.privateKey");
    expect(secret.filter((p) => !p.startsWith("connection."))).toEqual([]);
  });

  it("exposes the site and path, honours the layout, direct reloads and the transform hook", async () => {
    let site: NginxSite | undefined;
    const run = await runProgram(() => {
      site = new NginxSite(
        "gw",
        {
          host: testHost("node1", { services: "direct" }),
          layout: { confDir: "/opt/gateway/conf.d" },
          site: "daarion",
          listen: 80,
          locations: [{ path: "= /health", returnStatus: 200, returnBody: "ok" }],
          transform: { config: (args) => void (args.environment = { FLEET_TEST: "1" }) },
        },
        { protect: true },
      );
    });
    expect(site?.site).toBe("daarion");
    expect(site?.path).toBe("/opt/gateway/conf.d/daarion.conf");
    const config = run.get("gw-config");
    expect(managedFile(config).target).toBe("/opt/gateway/conf.d/daarion.conf");
    expect(scriptText(String(config.inputs.create))).toContain("nginx -s reload");
    expect(config.inputs.environment).toEqual({ FLEET_TEST: "1" });
    expect(run.get("gw").opts.protect).toBe(true);
  });
});

/**
 * Hostile and wrong input: each is refused with the component, the path and the rule,
 * before anything is registered.
 */
const base: Omit<NginxSiteArgs, "host"> = { site: "app", listen: 8080, locations: [{ path: "/", proxyPass: "http://127.0.0.1:8000" }] };
const loc = (extra: Record<string, unknown>) => ({ ...base, locations: [{ path: "/", proxyPass: "http://127.0.0.1:8000", ...extra }] });

const refusals: [string, Record<string, unknown>, string][] = [
  ["a shell-injection site name", { ...base, site: "x'; rm -rf / #" }, `site: must start with a lowercase letter and contain only a-z, 0-9 and '-'`],
  ["an over-long site name", { ...base, site: `a${"b".repeat(63)}` }, "site: must be at most 63 characters"],
  [
    "command substitution in proxyPass",
    loc({ proxyPass: "http://$(id):80" }),
    "locations/0/proxyPass: must be http://HOST[:PORT][/PATH] or https://… (ws:// and wss:// for WebSocket locations), without spaces, quotes, '$' or query",
  ],
  ["a proxyPass port out of range", loc({ proxyPass: "http://api:99999/" }), "locations/0/proxyPass: must name a valid host (DNS name or IP address) and a port between 1 and 65535"],
  [
    "a location path with a newline",
    { ...base, locations: [{ path: "/api/\n}\nserver {", proxyPass: "http://127.0.0.1:8000" }] },
    "locations/0/path: must be a URL prefix such as /api/ or an exact match such as = /health (letters, digits and . _ ~ / @ : + , = - only)",
  ],
  ["listen 70000", { ...base, listen: 70000 }, "listen: must be between 1 and 65535"],
  ["a /33 CIDR", loc({ allow: ["10.0.0.0/33"] }), "locations/0/allow/0: must be an IPv4 address or CIDR such as 10.10.0.0/24"],
  ["a negative burst", loc({ rateLimit: { rate: "10r/s", burst: -1 } }), "locations/0/rateLimit/burst: must be 0 or more"],
  ["a rate nginx cannot read", loc({ rateLimit: { rate: "10/s; evil" } }), "locations/0/rateLimit/rate: must be a request rate such as 10r/s or 300r/m"],
  ["a header name with spaces", loc({ headers: [{ name: "X Evil", value: "1" }] }), "locations/0/headers/0/name: must be an HTTP header name: a letter, then letters, digits and '-'"],
  [
    "a header value breaking out of its quotes",
    loc({ headers: [{ name: "X-A", value: 'a"; deny all; "' }] }),
    "locations/0/headers/0/value: must be one line without double quotes or backslashes",
  ],
  [
    "a header value with a non-variable '$'",
    loc({ headers: [{ name: "X-A", value: "$(id)" }] }),
    "locations/0/headers/0/value: must use '$' only to start an nginx variable such as $host or ${scheme}",
  ],
  ["a return body nginx would expand", { ...base, locations: [{ path: "/", returnStatus: 200, returnBody: "$document_root" }] }, "locations/0/returnBody: must be one line without '$' (nginx would expand it as a variable)"],
  ["a resolver that is not an IP", { ...base, resolver: { addresses: ["8.8.8.8; evil"] } }, "resolver/addresses/0: must be a DNS server address: an IP such as 127.0.0.11 (Docker's embedded DNS), IP:PORT or [IPv6]:PORT"],
  ["a server name with a space", { ...base, serverNames: ["a.example.com b"] }, "serverNames/0: must be a DNS name, *.example.com, example.* or _ (no regex names)"],
  ["a relative root", { ...base, root: "srv/app" }, "root: must be an absolute path of letters, digits and . _ @ + - / (no spaces or shell metacharacters)"],
  ["an nginx directive as a key", loc({ proxy_pass: "http://x" }), `locations/0: unknown key "proxy_pass"; remove or rename it`],
  ["a location with two actions", loc({ returnStatus: 204 }), "locations/0: must set exactly one of proxyPass, returnStatus or static"],
  ["a location with no action", { ...base, locations: [{ path: "/" }] }, "locations/0: must set exactly one of proxyPass, returnStatus or static"],
  ["ws:// without websocket", loc({ proxyPass: "ws://chat:7004/ws" }), "locations/0/proxyPass: uses ws:// or wss://: set websocket: true, or use http:// or https://"],
  ["spa without root", { ...base, spa: true }, "spa: needs root: set root to the directory of the built app, or remove spa"],
  [
    "an alias that escapes its prefix",
    { ...base, locations: [{ path: "/static", static: { alias: "/srv/static/" } }] },
    "locations/0/static/alias: must end with '/' exactly when the location path does (otherwise /prefix../ escapes the directory)",
  ],
];

describe("NginxSite refuses bad input before registering anything", () => {
  it.each(refusals)("%s", async (_what, input, problem) => {
    const r = await refused(() => new NginxSite("bad", { host: testHost("puck"), ...(input as Omit<NginxSiteArgs, "host">) }));
    expect(r.run.resources).toEqual([]);
    expect(r.message).toBe(`NginxSite "bad": ${problem}`);
  });

  it("reports every cross-field problem at once", async () => {
    const r = await refused(() => {
      new NginxSite("bad", {
        host: testHost("puck"),
        site: "gw",
        listen: 80,
        root: "/srv/www",
        spa: true,
        locations: [
          { path: "/", proxyPass: "http://127.0.0.1:1" },
          { path: "/api/", proxyPass: "http://127.0.0.1:1", rateLimit: { zone: "api", rate: "10r/s" } },
          { path: "/api/", proxyPass: "http://127.0.0.1:2", rateLimit: { zone: "api", rate: "20r/s" } },
          { path: "/ws/", proxyPass: "http://127.0.0.1:3", websocket: true, headers: [{ name: "connection", value: "close" }] },
        ],
      });
    });
    expect(r.run.resources).toEqual([]);
    expect(r.message).toBe(
      [
        'NginxSite "bad" has 4 problems:',
        `  - locations/0/path: "/" is already served by root with spa: true; remove spa or this location`,
        `  - locations/2/path: duplicate location "/api/" (also locations/1); merge them`,
        `  - locations/2/rateLimit/rate: must equal the rate of zone "api" at locations/1 (10r/s); a zone has one rate`,
        `  - locations/3/headers/0/name: "connection" is set by websocket: true; remove it`,
      ].join("\n"),
    );
  });

  it("refuses a bad layout the same way", async () => {
    const r = await refused(() => new NginxSite("bad", { host: testHost("puck"), ...base, layout: { confDir: "/etc/nginx/../../tmp" } }));
    expect(r.run.resources).toEqual([]);
    expect(r.message).toBe(`NginxSite "bad": layout/confDir: must not contain '..' segments`);
  });
});
