import { spawn, type ChildProcess } from "node:child_process";
import { createSocket, type Socket } from "node:dgram";
import { createServer, request, type IncomingHttpHeaders, type Server } from "node:http";
import { type AddressInfo } from "node:net";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type NginxSiteSpec,
  type NginxSiteSpecInput,
  nginxSiteSchema,
  nginxZoneName,
  renderNginxSite,
  sortLocations,
} from "../../src/components/nginx";
import { parseOrThrow } from "../../src/validation/errors";
import { expectValid, nginxPrefix, runTool } from "../helpers/validators";
import { freePort } from "../helpers/net";

function spec(input: NginxSiteSpecInput): NginxSiteSpec {
  return parseOrThrow("test", nginxSiteSchema, input);
}

// ---------------------------------------------------------------------------
// Seeds.

/** Daedalus on Puck (daedalus-deployment.md §3, §5; DESIGN.md: /metrics only from internal networks). */
const daedalus: NginxSiteSpecInput = {
  site: "daedalus",
  listen: 22181,
  root: "/srv/daedalus/frontend/build",
  spa: true,
  trustForwardedProto: true,
  locations: [
    { path: "/api/", proxyPass: "http://127.0.0.1:8000" },
    { path: "/metrics", proxyPass: "http://127.0.0.1:8000", allow: ["10.10.0.0/24", "172.16.0.0/12", "127.0.0.0/8"] },
  ],
};

/** daarion-deployment-overview.md "API Routes": [route, service, port, upstream path]. */
const daarionApi: [string, string, number, string][] = [
  ["auth", "auth-service", 7011, "/"],
  ["pdp", "pdp-service", 7012, "/"],
  ["usage", "usage-engine", 7013, "/"],
  ["agents", "agents-service", 7014, "/"],
  ["microdao", "microdao-service", 7015, "/"],
  ["dao", "dao-service", 7016, "/"],
  ["living-map", "living-map-service", 7017, "/living-map/"],
  ["messaging", "messaging-service", 7004, "/"],
  ["city", "city-service", 7001, "/api/city/"],
  ["space", "space-service", 7002, "/api/space/"],
];

/** "WebSocket Routes". */
const daarionWs: [string, string][] = [
  ["/ws/living-map/", "ws://living-map-service:7017/living-map/stream"],
  ["/ws/agents/", "ws://agents-service:7014/ws/agents/stream"],
  ["/ws/messaging/", "ws://messaging-service:7004/ws"],
];

/**
 * The all-in-one gateway: every API route under one `api` rate-limit budget of 10r/s,
 * burst 20, nodelay (daarion-node-standards.md "Rate Limiting"); container names resolve
 * per request through Docker's DNS; the SPA frontend is proxied; /health is the gateway's own.
 */
const daarion: NginxSiteSpecInput = {
  site: "daarion",
  listen: 80,
  serverNames: ["gateway.daarion.city", "localhost"],
  resolver: { addresses: ["127.0.0.11"] },
  locations: [
    ...daarionApi.map(([route, service, port, upstreamPath]) => ({
      path: `/api/${route}/`,
      proxyPass: `http://${service}:${port}${upstreamPath}`,
      rateLimit: { zone: "api", rate: "10r/s", burst: 20, nodelay: true },
    })),
    ...daarionWs.map(([p, url]) => ({ path: p, proxyPass: url, websocket: true })),
    { path: "= /health", returnStatus: 200, returnBody: '{"status":"healthy","service":"gateway"}', returnContentType: "application/json" },
    { path: "/", proxyPass: "http://frontend:80" },
  ],
};

// ---------------------------------------------------------------------------
// The real validator: a throwaway prefix whose nginx.conf includes the rendered
// files in the http context, exactly like Debian's `include /etc/nginx/conf.d/*.conf;`.

function nginxT(dir: string) {
  return runTool("nginx", ["-t", "-c", path.join(dir, "nginx.conf"), "-p", dir]);
}

describe("renderNginxSite: Daedalus on Puck", () => {
  const text = renderNginxSite(spec(daedalus));

  it("serves the SPA build and proxies /api/ and /metrics to uvicorn", () => {
    expect(text).toContain("    listen 22181;\n");
    expect(text).toContain("    root /srv/daedalus/frontend/build;\n    index index.html;\n");
    expect(text).toContain("    location / {\n        try_files $uri $uri/ /index.html;\n    }\n");
    expect(text).toMatch(/location \/api\/ \{\n {8}proxy_pass http:\/\/127\.0\.0\.1:8000;\n/);
    expect(text).toContain("proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;");
    expect(text).toContain("proxy_set_header Host $host;");
  });

  it("restricts /metrics to the internal networks, then denies everyone else", () => {
    expect(text).toContain(
      "    location /metrics {\n        allow 10.10.0.0/24;\n        allow 172.16.0.0/12;\n        allow 127.0.0.0/8;\n        deny all;\n        proxy_pass http://127.0.0.1:8000;\n",
    );
  });

  it("passes HAProxy's X-Forwarded-Proto through a site-named map", () => {
    expect(text).toContain("map $http_x_forwarded_proto $daedalus_forwarded_proto {\n    default $http_x_forwarded_proto;\n    '' $scheme;\n}\n");
    expect(text).toContain("proxy_set_header X-Forwarded-Proto $daedalus_forwarded_proto;");
  });

  it("is deterministic and ends with one newline", () => {
    const shuffled = { ...daedalus, locations: [...(daedalus.locations ?? [])].reverse() };
    expect(renderNginxSite(spec(shuffled))).toBe(text);
    expect(text.endsWith("}\n")).toBe(true);
    expect(text.endsWith("\n\n")).toBe(false);
  });
});

describe("renderNginxSite: DAARION all-in-one gateway", () => {
  const text = renderNginxSite(spec(daarion));

  it("defines the shared api zone once, at http level, named after the site", () => {
    expect(text.match(/limit_req_zone /g)).toHaveLength(1);
    expect(text).toContain("limit_req_zone $binary_remote_addr zone=daarion_api:10m rate=10r/s;\n");
    expect(text.match(/limit_req zone=daarion_api burst=20 nodelay;/g)).toHaveLength(10);
  });

  it.each(daarionApi)("routes /api/%s/ to %s:%i with the prefix replaced by %s", (route, service, port, upstreamPath) => {
    const block = locationBlock(text, `/api/${route}/`);
    expect(block).toContain(`set $fleet_upstream ${service};`);
    expect(block).toContain(`rewrite ^/api/${route}/(.*)$ ${upstreamPath}$1 break;`);
    expect(block).toContain(`proxy_pass http://$fleet_upstream:${port};`);
    expect(block).toContain(`proxy_redirect http://${service}:${port}${upstreamPath} /api/${route}/;`);
  });

  it("upgrades the three WebSocket routes with one site-named map", () => {
    expect(text.match(/map \$http_upgrade /g)).toHaveLength(1);
    expect(text).toContain("map $http_upgrade $daarion_connection_upgrade {\n    default upgrade;\n    '' close;\n}\n");
    for (const [p, url] of daarionWs) {
      const block = locationBlock(text, p);
      const upstreamPath = url.replace(/^ws:\/\/[^/]+/, "");
      expect(block).toContain(`rewrite ^${p}(.*)$ ${upstreamPath}$1 break;`);
      expect(block).toContain("proxy_http_version 1.1;");
      expect(block).toContain("proxy_set_header Upgrade $http_upgrade;");
      expect(block).toContain("proxy_set_header Connection $daarion_connection_upgrade;");
      expect(block).toContain("proxy_read_timeout 3600s;");
      expect(block).toMatch(/proxy_pass http:\/\/\$fleet_upstream:\d+;/);
    }
  });

  it("answers /health itself and proxies the SPA frontend", () => {
    expect(locationBlock(text, "= /health")).toContain(
      'default_type application/json;\n        return 200 "{\\"status\\":\\"healthy\\",\\"service\\":\\"gateway\\"}";',
    );
    const root = locationBlock(text, "/");
    expect(root).toContain("set $fleet_upstream frontend;\n        proxy_pass http://$fleet_upstream:80;\n        proxy_redirect http://frontend:80/ /;");
    expect(root).not.toContain("rewrite");
  });

  it("resolves container names per request through Docker's DNS", () => {
    expect(text).toContain("    resolver 127.0.0.11 valid=10s ipv6=off;\n    resolver_timeout 5s;\n");
  });
});

describe("renderNginxSite: details", () => {
  it("keeps IP and localhost upstreams static even with a resolver", () => {
    const text = renderNginxSite(
      spec({
        site: "s",
        listen: 80,
        resolver: {},
        locations: [
          { path: "/a/", proxyPass: "http://127.0.0.1:9000/x/" },
          { path: "/b/", proxyPass: "http://localhost:9001" },
          { path: "/c/", proxyPass: "https://[::1]:9002/" },
        ],
      }),
    );
    expect(text).toContain("proxy_pass http://127.0.0.1:9000/x/;");
    expect(text).toContain("proxy_pass http://localhost:9001;");
    expect(text).toContain("proxy_pass https://[::1]:9002/;");
    expect(text).not.toContain("$fleet_upstream");
    expect(text).not.toContain("proxy_ssl_server_name");
  });

  it("sends SNI to a TLS upstream named by DNS", () => {
    const text = renderNginxSite(spec({ site: "s", listen: 80, resolver: {}, locations: [{ path: "/", proxyPass: "https://api.example.com" }] }));
    expect(locationBlock(text, "/")).toContain(
      "set $fleet_upstream api.example.com;\n        proxy_pass https://$fleet_upstream;\n        proxy_redirect https://api.example.com/ /;\n        proxy_ssl_server_name on;\n",
    );
  });

  it("names unshared zones <site>_<n> by position and renders burst/nodelay only when set", () => {
    const s = spec({
      site: "my-app",
      listen: 8080,
      locations: [
        { path: "/z/", proxyPass: "http://127.0.0.1:1", rateLimit: { rate: "300r/m" } },
        { path: "/a/", proxyPass: "http://127.0.0.1:1", rateLimit: { rate: "5r/s", burst: 3 } },
      ],
    });
    const text = renderNginxSite(s);
    expect(sortLocations(s.locations).map((l) => l.path)).toEqual(["/a/", "/z/"]);
    expect(nginxZoneName("my-app", 1, undefined)).toBe("my-app_1");
    expect(text).toContain("limit_req_zone $binary_remote_addr zone=my-app_1:10m rate=5r/s;\nlimit_req_zone $binary_remote_addr zone=my-app_2:10m rate=300r/m;\n");
    expect(locationBlock(text, "/a/")).toContain("limit_req zone=my-app_1 burst=3;");
    expect(locationBlock(text, "/z/")).toContain("limit_req zone=my-app_2;");
  });

  it("renders headers, body size, timeouts, static locations, logs and listen options", () => {
    const text = renderNginxSite(
      spec({
        site: "mnemosyne",
        listen: 23181,
        address: "::",
        defaultServer: true,
        serverNames: ["mnemosyne.ouranos.helu.ca", "*.helu.ca"],
        accessLog: "/var/log/nginx/mnemosyne.access.log",
        accessLogFormat: "combined",
        errorLog: "/var/log/nginx/mnemosyne.error.log",
        errorLogLevel: "warn",
        locations: [
          {
            path: "/",
            proxyPass: "http://127.0.0.1:8000",
            clientMaxBodySize: "100m",
            readTimeout: "300s",
            headers: [
              { name: "X-Script-Name", value: "" },
              { name: "host", value: "$http_host" },
              { name: "X-Request-Start", value: "t=${msec} via $server_name" },
            ],
          },
          { path: "/static/", static: { alias: "/srv/static/" } },
          { path: "= /old", returnStatus: 301, returnBody: "https://example.com/new" },
          { path: "= /gone", returnStatus: 410 },
        ],
      }),
    );
    expect(text).toContain("    listen [::]:23181 default_server;\n    server_name mnemosyne.ouranos.helu.ca *.helu.ca;\n");
    expect(text).toContain("    access_log /var/log/nginx/mnemosyne.access.log combined;\n    error_log /var/log/nginx/mnemosyne.error.log warn;\n");
    const root = locationBlock(text, "/");
    expect(root).toContain("client_max_body_size 100m;");
    expect(root).toContain("proxy_set_header host $http_host;");
    expect(root).not.toContain("proxy_set_header Host $host;");
    expect(root).toContain('proxy_set_header X-Script-Name "";');
    expect(root).toContain('proxy_set_header X-Request-Start "t=${msec} via $server_name";');
    expect(root).toContain("proxy_read_timeout 300s;\n        proxy_send_timeout 300s;");
    expect(locationBlock(text, "/static/")).toContain("alias /srv/static/;");
    expect(locationBlock(text, "= /old")).toContain('return 301 "https://example.com/new";');
    expect(locationBlock(text, "= /old")).not.toContain("default_type");
    expect(locationBlock(text, "= /gone")).toContain("return 410;");
    // No root and a user "/": nothing generated.
    expect(text.match(/location \/ \{/g)).toHaveLength(1);
  });

  it("rewrites an exact location to the upstream path itself", () => {
    const text = renderNginxSite(spec({ site: "m", listen: 80, resolver: {}, locations: [{ path: "= /healthz", proxyPass: "http://mcp:8001/mcp/health" }] }));
    expect(locationBlock(text, "= /healthz")).toContain("rewrite ^/healthz$ /mcp/health break;");
  });
});

describe("nginx -t accepts the rendered files", () => {
  it("the Daedalus site and the DAARION gateway, together in one http context", () => {
    const dir = nginxPrefix({ "daedalus.conf": renderNginxSite(spec(daedalus)), "daarion.conf": renderNginxSite(spec(daarion)) });
    try {
      expectValid(nginxT(dir), "daedalus.conf + daarion.conf");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("every directive shape the renderer emits", () => {
    const dir = nginxPrefix({});
    try {
      const kitchen = spec({
        site: "kitchen",
        listen: 18090,
        address: "127.0.0.1",
        defaultServer: true,
        serverNames: ["kitchen.example.com", "*.example.com", "www.example.*", "_"],
        root: "/srv/kitchen",
        index: ["index.html", "index.htm"],
        trustForwardedProto: true,
        accessLog: `${dir}/kitchen.access.log`,
        accessLogFormat: "combined",
        errorLog: `${dir}/kitchen.error.log`,
        errorLogLevel: "warn",
        resolver: { addresses: ["127.0.0.11", "::1", "127.0.0.1:5353", "[::1]:5353"], valid: "30s", ipv6: true },
        locations: [
          {
            path: "/api/",
            proxyPass: "https://api.example.com:8443/v1/",
            clientMaxBodySize: "50m",
            readTimeout: "120s",
            allow: ["10.0.0.0/8", "192.168.1.10"],
            rateLimit: { rate: "300r/m", burst: 5 },
            headers: [
              { name: "X-Request-Start", value: "t=${msec}" },
              { name: "X-Script-Name", value: "" },
              { name: "X-Note", value: "a; b { c } # d" },
            ],
          },
          { path: "= /exact", proxyPass: "http://svc:9000/other" },
          { path: "/ws/", proxyPass: "wss://chat.example.com/socket", websocket: true },
          { path: "/static/", static: { alias: "/srv/static/" } },
          { path: "/files/", static: { root: "/srv/files" } },
          { path: "/assets/", static: {} },
          { path: "= /old", returnStatus: 308, returnBody: "https://example.com/new" },
          { path: "= /teapot", returnStatus: 418, returnBody: 'say "hi" \\ bye' },
          { path: "= /empty", returnStatus: 204 },
        ],
      });
      writeFileSync(path.join(dir, "conf.d", "kitchen.conf"), renderNginxSite(kitchen));
      expectValid(nginxT(dir), "kitchen.conf");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("two sites with the same zone and map roles do not collide", () => {
    const gw = (site: string, port: number): NginxSiteSpecInput => ({
      site,
      listen: port,
      resolver: {},
      trustForwardedProto: true,
      locations: [
        { path: "/api/", proxyPass: "http://api:8000/", rateLimit: { zone: "api", rate: "10r/s", burst: 20, nodelay: true } },
        { path: "/ws/", proxyPass: "ws://api:8000/ws", websocket: true, rateLimit: { rate: "1r/s" } },
      ],
    });
    const dir = nginxPrefix({
      "a.conf": renderNginxSite(spec(gw("a", 18081))),
      "a-1.conf": renderNginxSite(spec(gw("a-1", 18082))),
      "a-api.conf": renderNginxSite(spec(gw("a-api", 18083))),
    });
    try {
      expectValid(nginxT(dir), "three gateway sites");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------
// The runtime-resolution pattern, live: nginx with the rendered gateway file, a DNS
// server on loopback answering every A query with 127.0.0.1, and an upstream that
// echoes what it received. Proves the rewrite keeps nginx's prefix-replacement
// semantics, that names resolve per request, and that WebSocket/allow rules apply.

interface Seen {
  url: string;
  headers: IncomingHttpHeaders;
}

describe("the rendered gateway, live", () => {
  let dns: Socket;
  let upstream: Server;
  let nginxProc: ChildProcess | undefined;
  let dir = "";
  let listenPort = 0;
  const seen: Seen[] = [];
  const dnsQueries: string[] = [];

  beforeAll(async () => {
    dns = await startDns(dnsQueries);
    upstream = createServer((req, res) => {
      seen.push({ url: req.url ?? "", headers: req.headers });
      // What an app behind the gateway says when it redirects: its own absolute URL.
      res.setHeader("Location", `http://living-map-service:${(upstream.address() as AddressInfo).port}/living-map/moved`);
      res.end("upstream");
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    const upstreamPort = (upstream.address() as AddressInfo).port;
    const dnsPort = (dns.address()).port;
    listenPort = await freePort();
    const site = spec({
      site: "gw",
      listen: listenPort,
      address: "127.0.0.1",
      resolver: { addresses: [`127.0.0.1:${dnsPort}`], valid: "1s" },
      limits: { maxBodySize: "1k" },
      locations: [
        { path: "/api/upload/", proxyPass: `http://plain-service:${upstreamPort}`, clientMaxBodySize: "2k" },
        { path: "/api/living-map/", proxyPass: `http://living-map-service:${upstreamPort}/living-map/` },
        { path: "/api/plain/", proxyPass: `http://plain-service:${upstreamPort}` },
        { path: "/ws/messaging/", proxyPass: `ws://messaging-service:${upstreamPort}/ws`, websocket: true },
        { path: "/metrics", proxyPass: `http://127.0.0.1:${upstreamPort}`, allow: ["10.10.0.0/24"] },
        { path: "= /health", returnStatus: 200, returnBody: "ok" },
      ],
    });
    dir = nginxPrefix({ "gw.conf": renderNginxSite(site) });
    liveDir = dir;
    expectValid(nginxT(dir), "live gateway");
    nginxProc = spawn("nginx", ["-c", path.join(dir, "nginx.conf"), "-p", dir, "-g", "daemon off; master_process off;"], { stdio: "ignore" });
    await waitFor(async () => (await get(listenPort, "/health")).status === 200);
  });

  afterAll(async () => {
    if (nginxProc?.pid !== undefined && nginxProc.exitCode === null) {
      nginxProc.kill("SIGTERM");
      await new Promise((resolve) => nginxProc?.once("exit", resolve));
    }
    upstream?.close();
    dns?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("replaces the location prefix by the upstream path and keeps the query", async () => {
    const r = await get(listenPort, "/api/living-map/layers/7?zoom=3");
    expect(r.status).toBe(200);
    expect(seen.at(-1)?.url).toBe("/living-map/layers/7?zoom=3");
    expect(seen.at(-1)?.headers["x-forwarded-for"]).toBe("127.0.0.1");
    expect(dnsQueries).toContain("living-map-service");
    // proxy_redirect maps the upstream's own absolute Location back under the prefix.
    expect(r.headers.location).toMatch(/^(http:\/\/127\.0\.0\.1:\d+)?\/api\/living-map\/moved$/);
  });

  it("passes the original URI unchanged when the upstream URL has no path", async () => {
    await get(listenPort, "/api/plain/x%20y?a=1");
    expect(seen.at(-1)?.url).toBe("/api/plain/x%20y?a=1");
  });

  it("forwards WebSocket upgrades with HTTP/1.1 and Connection: upgrade", async () => {
    await get(listenPort, "/ws/messaging/", { Connection: "Upgrade", Upgrade: "websocket" });
    const last = seen.at(-1);
    expect(last?.url).toBe("/ws");
    expect(last?.headers.upgrade).toBe("websocket");
    expect(last?.headers.connection).toBe("upgrade");
  });

  it("answers 413 for a body over the site's maxBodySize (1k), and a location's own clientMaxBodySize overrides it", async () => {
    const before = seen.length;
    expect((await post(listenPort, "/api/plain/x", 1025)).status).toBe(413);
    expect(seen.length).toBe(before);
    expect((await post(listenPort, "/api/plain/x", 1024)).status).toBe(200);
    expect((await post(listenPort, "/api/upload/x", 2048)).status).toBe(200);
    expect((await post(listenPort, "/api/upload/x", 2049)).status).toBe(413);
  });

  it("denies /metrics to an address outside the allow list", async () => {
    const before = seen.length;
    expect((await get(listenPort, "/metrics")).status).toBe(403);
    expect(seen.length).toBe(before);
  });
});

// ---------------------------------------------------------------------------
// helpers

function locationBlock(text: string, p: string): string {
  const start = text.indexOf(`    location ${p} {\n`);
  if (start < 0) throw new Error(`no location ${p} in:\n${text}`);
  const end = text.indexOf("\n    }\n", start);
  return text.slice(start, end + 7);
}


function get(port: number, p: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: p, headers }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on("upgrade", (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
    });
    req.on("error", reject);
    req.end();
  });
}

function post(port: number, p: string, bytes: number): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: p, method: "POST", headers: { "Content-Length": String(bytes) } }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on("error", reject);
    req.end("x".repeat(bytes));
  });
}

async function waitFor(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > until) throw new Error(`nginx did not come up:\n${errorLog()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

let liveDir = "";
function errorLog(): string {
  const file = path.join(liveDir, "error.log");
  return liveDir && existsSync(file) ? readFileSync(file, "utf8") : "(no error.log)";
}

/** A DNS server answering every A query with 127.0.0.1 (and recording the names asked). */
async function startDns(queries: string[]): Promise<Socket> {
  const sock = createSocket("udp4");
  sock.on("message", (msg, rinfo) => {
    const labels: string[] = [];
    let i = 12;
    while (i < msg.length && msg[i] !== 0) {
      const len = msg[i]!;
      labels.push(msg.subarray(i + 1, i + 1 + len).toString("ascii"));
      i += len + 1;
    }
    const qEnd = i + 5; // zero byte + QTYPE + QCLASS
    const qtype = msg.readUInt16BE(i + 1);
    queries.push(labels.join("."));
    const header = Buffer.from(msg.subarray(0, 12));
    header.writeUInt16BE(0x8180, 2); // response, recursion available, no error
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(qtype === 1 ? 1 : 0, 6);
    header.writeUInt16BE(0, 8);
    header.writeUInt16BE(0, 10);
    const question = msg.subarray(12, qEnd);
    const answer = qtype === 1 ? Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 127, 0, 0, 1]) : Buffer.alloc(0);
    sock.send(Buffer.concat([header, question, answer]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, "127.0.0.1", resolve));
  return sock;
}
