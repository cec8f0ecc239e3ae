/**
 * Library use, as another team would: build and pack the package, install the
 * tarball into a scratch program outside this tree, type-check that program in
 * strict mode against the published declarations, and run it under mocks,
 * constructing every component.
 *
 * Packing (a full build) and the strict type-check are pure functions of the files
 * they read, and cost about 30 CPU seconds: their result is kept in .cache/consumer
 * under a hash of everything they read (test/helpers/content-cache.ts), so a repeated
 * run with the same inputs reuses the packed scratch program, and any change to the
 * sources, templates, package metadata, lockfile, build config or this file packs and
 * type-checks again. The program itself runs on every run.
 *
 * Under `npm test` the typecheck beside vitest emits the build from the program it has
 * already checked (scripts/lint/shared-build.ts); this test waits for that run's stamp and,
 * when dist/src is proved to be exactly the build of the current inputs, packs it with
 * `npm pack --ignore-scripts` (the prepack build would write the same bytes again). Anything
 * else, and run on its own, it packs with the real prepack build. Under `npm test` it
 * therefore starts by waiting (15–40 s of wall, no CPU): vitest.config.mts's order should
 * give the other worker a file that computes meanwhile, not one that also waits.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { readStamp, staleBuild } from "../../scripts/lint/shared-build";
import { contentKey } from "../../scripts/content-key";
import { ContentCache } from "../helpers/content-cache";

const repo = path.resolve(__dirname, "../..");
let scratch = "";
let packed: string[] = [];
/** Set when the scratch program and its strict type-check came from the cache. */
let cached = false;

// What `npm pack` and the consumer's tsc read: the package's sources and files, its
// metadata and dependency tree, the build config, Node's version and this test itself.
const cache = new ContentCache(path.join(repo, ".cache/consumer"));
const key = () =>
  contentKey(repo, {
    trees: ["src", "templates"],
    files: ["package.json", "package-lock.json", "node_modules/.package-lock.json", "tsconfig.json", "tsconfig.build.json", "README.md", path.relative(repo, __filename)],
    extra: [process.version],
  });

const CONSUMER = `
import * as pulumi from "@pulumi/pulumi";
import * as postgresql from "@pulumi/postgresql";
import * as minio from "@pulumi/minio";
import * as fleet from "pulumi-fleet";
import { runProgram } from "pulumi-fleet/testing";

const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHfleetTestHostKeyOnlyForUnitTestsAAAAAAAAAAAA";

async function main(): Promise<void> {
  const run = await runProgram(
    () => {
      const web: fleet.Host = fleet.defineHost("web", { address: "web.example.internal", hostKey: key }, pulumi.secret("PRIVATE-KEY"));
      const edge = fleet.defineHost("edge", { address: "10.0.0.5", hostKey: key }, "PRIVATE-KEY");
      const pg = new postgresql.Provider("pg", { host: "db.example.internal", username: "postgres", password: pulumi.secret("x") });
      const s3 = new minio.Provider("s3", { minioServer: "s3.example.internal:9000", minioUser: "root", minioPassword: pulumi.secret("y") });
      const db = new fleet.PostgresDatabase("app-db", { provider: pg, database: "app", url: { host: "db.example.internal" } });
      new fleet.S3Bucket("app-files", { provider: s3, bucket: "app-files" });
      new fleet.HAProxyRoute("app-route", { host: edge, backend: "app", domains: ["app.example.com"], healthPath: "/health", servers: [{ name: "web", address: "web.example.internal", port: 8080 }] });
      new fleet.NginxSite("app-site", { host: web, site: "app", listen: 8080, locations: [{ path: "/", proxyPass: "http://127.0.0.1:8000" }] });
      const caddyServer = new fleet.CaddyServer("caddy", { host: edge });
      const site = new fleet.CaddySite("app-caddy-site", { server: caddyServer, site: "app", addresses: ["app.example.com"] });
      new fleet.CaddyRoute("app-caddy-route", { site, route: "app", path: "/app*", upstreams: ["http://127.0.0.1:8505"] });
      new fleet.PrometheusScrape("app-scrape", { host: edge, jobName: "app", targets: ["web.example.internal:8080"], alerts: [{ name: "AppDown", expr: "up == 0", for: "1m", severity: "critical", summary: "app down" }] });
      new fleet.ComposeStack("app-stack", {
        host: web,
        project: "app",
        directory: "/opt/app",
        compose: { content: "services:\\n  app:\\n    image: nginx:alpine\\n    environment:\\n      TOKEN: \${TOKEN}\\n" },
        env: { TOKEN: db.password },
        images: { app: { image: "nginx:alpine", digest: "sha256:${"e".repeat(64)}" } },
      });
      new fleet.SystemdUnit("app-unit", { host: web, name: "app.service", unit: { description: "App" }, service: { execStart: "/usr/bin/app --port 8000" }, install: { wantedBy: ["multi-user.target"] } });
      new fleet.RemoteTask("app-migrate", { host: web, argv: ["/usr/bin/app", "migrate"], triggers: ["v1"] });
      new fleet.HealthCheck("app-health", { host: web, url: "http://127.0.0.1:8080/health", bodyMatch: "ok" });
      new fleet.AppDeployment("shop", {
        host: web,
        source: { url: "https://git.example.com/shop.git", ref: "v1.0.0", directory: "/opt/shop" },
        compose: { project: "shop", directory: "/opt/shop", compose: { content: "services:\\n  app:\\n    image: nginx:alpine\\n    ports: [\\"127.0.0.1:8506:80\\"]\\n" }, images: { app: { image: "nginx:alpine", digest: "sha256:${"e".repeat(64)}" } } },
        route: { caddy: { site, route: "shop", path: "/shop*", upstreams: ["http://127.0.0.1:8506"] } },
        checks: { health: { url: "http://127.0.0.1:8506/shop/", rerunOn: ["revision", "compose"] } },
      });
      try {
        new fleet.HAProxyRoute("bad", { host: edge, backend: "x'; rm -rf / #", domains: ["a.example.com"], healthPath: "/", servers: [{ name: "w", address: "w", port: 1 }] });
      } catch (e) {
        console.log("REFUSED " + (e instanceof fleet.ConfigError) + " " + (e as Error).message.split("\\n")[0]);
      }
    },
    { project: "consumer", stack: "dev" },
  );
  console.log(JSON.stringify(run.resources.map((r) => r.type + " " + r.name)));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
`;

/**
 * Under `npm test`: wait for this run's stamp from the typecheck (or for the typecheck to
 * end without one), then whether dist/src is exactly the build of the current inputs.
 */
function sharedBuildCurrent(): boolean {
  const { FLEET_SHARED_BUILD: stampFile, FLEET_SHARED_BUILD_RUN: run, FLEET_SHARED_BUILD_PID: pid } = process.env;
  if (!stampFile || !run || !pid) return false;
  const alive = () => {
    try {
      process.kill(Number(pid), 0);
      return true;
    } catch {
      return false;
    }
  };
  const pause = new Int32Array(new SharedArrayBuffer(4));
  let stamp = readStamp(stampFile);
  while (stamp?.run !== run && alive()) {
    Atomics.wait(pause, 0, 0, 100);
    stamp = readStamp(stampFile);
  }
  return stamp?.run === run && staleBuild(repo, stamp) === undefined;
}

beforeAll(() => {
  const hit = cache.get(key());
  if (hit && existsSync(path.join(hit, "packed.json"))) {
    scratch = hit;
    packed = JSON.parse(readFileSync(path.join(hit, "packed.json"), "utf8")) as string[];
    cached = true;
    return;
  }
  scratch = mkdtempSync(path.join(tmpdir(), "fleet-consumer-"));
  const tarballs = path.join(scratch, "tarballs");
  mkdirSync(tarballs);
  // `npm pack` runs `prepack` (the build), exactly what a publish would ship; or, with the
  // typecheck's emit proved to be that build, packs it without building it again.
  const pack = ["pack", "--json", "--pack-destination", tarballs, ...(sharedBuildCurrent() ? ["--ignore-scripts"] : [])];
  const out = execFileSync("npm", pack, { cwd: repo, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  packed = (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
  const tarball = path.join(tarballs, readdirSync(tarballs)[0]!);
  const nm = path.join(scratch, "node_modules");
  mkdirSync(path.join(nm, "pulumi-fleet"), { recursive: true });
  execFileSync("tar", ["-xzf", tarball, "-C", path.join(nm, "pulumi-fleet"), "--strip-components=1"]);
  // The package's dependencies come from this repo's install (no network in tests).
  for (const entry of readdirSync(path.join(repo, "node_modules"))) {
    if (entry === "pulumi-fleet" || entry.startsWith(".")) continue;
    symlinkSync(path.join(repo, "node_modules", entry), path.join(nm, entry));
  }
  writeFileSync(path.join(scratch, "package.json"), JSON.stringify({ name: "consumer", private: true, dependencies: { "pulumi-fleet": "file:tarball" } }));
  writeFileSync(
    path.join(scratch, "tsconfig.json"),
    JSON.stringify({ compilerOptions: { strict: true, target: "ES2022", module: "node16", moduleResolution: "node16", esModuleInterop: true, skipLibCheck: false, outDir: "out", types: ["node"] }, files: ["consumer.ts"] }),
  );
  writeFileSync(path.join(scratch, "consumer.ts"), CONSUMER);
  writeFileSync(path.join(scratch, "packed.json"), JSON.stringify(packed));
});

describe("pulumi-fleet as a dependency of another program", () => {
  it("packs the compiled library, its declarations and the templates, not the sources or tests", () => {
    expect(packed).toContain("dist/src/index.js");
    expect(packed).toContain("dist/src/index.d.ts");
    expect(packed).toContain("dist/src/testing/index.d.ts");
    expect(packed).toContain("templates/mnemosyne/docker-compose.yaml.njk");
    expect(packed.some((f) => f.startsWith("test/") || f.startsWith("stacks/") || f.endsWith(".ts") && !f.endsWith(".d.ts"))).toBe(false);
  });

  it("type-checks in strict mode against the published declarations, and runs constructing every component", () => {
    if (!cached) {
      execFileSync(path.join(repo, "node_modules/.bin/tsc"), ["-p", "tsconfig.json"], { cwd: scratch, stdio: "pipe" });
      // Only a scratch program that packed and type-checked is kept.
      scratch = cache.put(key(), scratch);
    }
    const out = execFileSync("node", ["out/consumer.js"], { cwd: scratch, encoding: "utf8" });
    const lines = out.trim().split("\n");
    expect(lines[0]).toMatch(/^REFUSED true HAProxyRoute "bad": backend: must start with a lowercase letter/);
    const types = new Set((JSON.parse(lines[lines.length - 1]!) as string[]).map((s) => s.split(" ")[0]));
    for (const t of [
      "fleet:postgres:Database",
      "fleet:minio:Bucket",
      "fleet:haproxy:Route",
      "fleet:nginx:Site",
      "fleet:caddy:Server",
      "fleet:caddy:Site",
      "fleet:caddy:Route",
      "fleet:prometheus:Scrape",
      "fleet:compose:Stack",
      "fleet:systemd:Unit",
      "fleet:remote:Task",
      "fleet:health:Check",
      "fleet:app:Deployment",
      "command:remote:Command",
      "postgresql:index/role:Role",
      "minio:index/s3Bucket:S3Bucket",
    ]) {
      expect(types, t).toContain(t);
    }
  });
});
