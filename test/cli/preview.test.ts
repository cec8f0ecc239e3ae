/**
 * `pulumi preview` of the stacks with the real CLI v3.259.0, the real Node.js language
 * host v3.259.0 and the real provider plugins, as a user runs it: a fresh project
 * directory, `pulumi login file://…`, `pulumi stack init`, the SSH key set as a secret,
 * the stack's example config (Pulumi.<stack>.yaml), `pulumi preview`. Offline: image
 * digests come from a registry on loopback (Debian's docker-registry, images pushed
 * through its HTTP API) or are pinned in config. No Docker daemon anywhere.
 *
 * ouranos is not here: its S3Bucket needs the minio provider, whose Terraform provider
 * is AGPL-licensed and not built for this project (see README); it runs under mocks.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { CATALOGUE } from "../../stacks/daarion/catalogue";
import { DAARION_REQUIRED_SECRETS } from "../../stacks/daarion/config";
import { MENAGERIE_REQUIRED_SECRETS } from "../../stacks/menagerie/config";
import { type Cli, cli, copyProject, ENGINE_BIN, requireEngine, sshKey } from "./pulumi";
import { appRepositories } from "../helpers/app-repositories";
import { type LocalRegistry, startRegistry } from "./registry";

const work = mkdtempSync(path.join(tmpdir(), "fleet-cli-"));
const key = sshKey(work);
let registry: LocalRegistry;
/** `<image>` → digest of everything pushed. */
const pushed = new Map<string, string>();
/** The image as deployed, pinned: `<image>` without its tag, `@<digest>`. */
/** The app repositories the stack files name, local (`git ls-remote` and the compose files at preview). */
const gitEnv = appRepositories(path.join(work, "git"));
const pinned = (image: string): string => `${image.replace(/:[^:/]+$/, "")}@${pushed.get(image)!}`;
const timings: string[] = [];
/**
 * An `ssh` first on PATH that records any call: the docker provider names each Docker
 * host over SSH, and a preview must never dial it (the registry read is plain HTTPS).
 */
const trap = path.join(work, "trap");
const dialled = path.join(work, "ssh-calls");

/** DAARION's own images live under this path of the local registry. */
const OWN = (host: string) => `${host}/ivantytar/microdao-daarion`;
/** Where each third-party image of the catalogue lives in the local registry: `postgres:16-alpine` → `<host>/library/postgres:16-alpine`. */
const mirrored = (host: string, image: string) => `${host}/${image.includes("/") ? image : `library/${image}`}`;

beforeAll(async () => {
  requireEngine();
  mkdirSync(trap);
  writeFileSync(path.join(trap, "ssh"), `#!/bin/sh\necho "ssh $*" >> ${dialled}\nexit 255\n`, { mode: 0o755 });
  registry = await startRegistry(mkdtempSync(path.join(work, "registry-")));
  for (const s of CATALOGUE) {
    const image = s.image === "own" ? `${OWN(registry.host)}/${s.name}:latest` : mirrored(registry.host, s.image);
    const [repository, tag] = image.slice(registry.host.length + 1).split(":") as [string, string];
    pushed.set(image, await registry.push(repository, tag));
  }
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  rmSync(work, { recursive: true, force: true });
  // The measured times, for the report (not asserted).
  if (timings.length) console.log(`real pulumi preview timings:\n  ${timings.join("\n  ")}`);
});

const REQUIRED_SECRETS: Record<string, readonly string[]> = { menagerie: MENAGERIE_REQUIRED_SECRETS, daarion: DAARION_REQUIRED_SECRETS };

let counter = 0;
/** A user's new checkout of `stack`: logged in to a file backend, stack created, SSH key set. */
async function userStack(stack: string): Promise<Cli> {
  const n = ++counter;
  const dir = path.join(work, `${stack}-${n}`);
  copyProject(dir, [stack]);
  const c = cli(dir, path.join(work, `home-${n}`), { ...gitEnv, SSL_CERT_FILE: registry.caFile, PATH: `${trap}:${ENGINE_BIN}:${process.env.PATH ?? "/usr/bin:/bin"}` });
  const state = path.join(work, `state-${n}`);
  mkdirSync(state);
  await c.ok(["login", `file://${state}`]);
  await c.ok(["stack", "init", stack, "--secrets-provider", "passphrase"]);
  await c.ok(["config", "set", "--secret", "fleet:sshPrivateKey"], readFileSync(key, "utf8"));
  // The other secrets the stack file's header lists as required.
  for (const k of REQUIRED_SECRETS[stack] ?? []) await c.ok(["config", "set", "--secret", `fleet:${k}`], `cli-test-${k}`);
  return c;
}

/** Edit the stack's config file as a user would (plain values only; secrets go through the CLI). */
function editDaarion(c: Cli, edit: (daarion: Record<string, unknown>) => void): void {
  const file = path.join(c.dir, "Pulumi.daarion.yaml");
  const doc = parse(readFileSync(file, "utf8")) as { config: Record<string, Record<string, unknown>> };
  edit(doc.config["fleet:daarion"]!);
  writeFileSync(file, stringify(doc));
}

/** The example config, pointed at the local registry (DAARION's own images and a mirror of the upstream ones). */
function atLocalRegistry(daarion: Record<string, unknown>, tag = "latest", host = registry.host): void {
  daarion.registry = OWN(host);
  daarion.tag = tag;
  daarion.images = Object.fromEntries(CATALOGUE.filter((s) => s.image !== "own").map((s) => [s.name, { image: mirrored(host, s.image) }]));
}

async function preview(c: Cli, label: string) {
  const r = await c.run(["preview", "--stack", c.dir.includes("daarion") ? "daarion" : "menagerie"]);
  timings.push(`${label}: ${r.seconds.toFixed(1)} s (exit ${r.code})`);
  return r;
}

/** The example config plus an app that runs a registry image (`build: false`), as onboarding one would. */
function withRegistryApp(c: Cli, image: string): void {
  const file = path.join(c.dir, "Pulumi.menagerie.yaml");
  const doc = parse(readFileSync(file, "utf8")) as { config: { "fleet:menagerie": { apps: unknown[] } } };
  doc.config["fleet:menagerie"].apps.push({ slug: "falcon", repo: { url: "https://git.circuitforge.tech/pyr0ball/falcon.git", ref: "v1.0.0" }, port: 8506, build: false, images: { app: { image } } });
  writeFileSync(file, stringify(doc));
}

describe("pulumi preview with the real CLI, language host and providers", () => {
  it("menagerie: previews the example config (no image lookups: the apps are built on the host)", async () => {
    const c = await userStack("menagerie");
    const r = await preview(c, "menagerie, example config");
    expect(r.stderr + r.stdout).not.toMatch(/error:/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\+ +pulumi:pulumi:Stack +fleet-menagerie +create/);
    expect(r.stdout).toMatch(/Resources:\n +\+ \d+ to create/);
    expect(r.stdout).not.toContain("pulumi:providers:docker");
  });

  it("menagerie: an app running a registry image has its digest looked up (no Docker daemon); a missing tag is one line", async () => {
    const c = await userStack("menagerie");
    const image = `${registry.host}/circuitforge/falcon:1.0`;
    pushed.set(image, await registry.push("circuitforge/falcon", "1.0"));
    withRegistryApp(c, image);
    const before = registry.manifestRequests().length;
    const r = await preview(c, "menagerie + falcon from the local registry");
    expect(r.stderr + r.stdout).not.toMatch(/error:/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\+ +pulumi:providers:docker +menagerie-registry +create/);
    expect(r.stdout).toMatch(/\+ +fleet:compose:Stack +falcon-compose +create/);
    expect(registry.manifestRequests().slice(before).join("\n")).toContain("/v2/circuitforge/falcon/manifests/1.0");
    expect(existsSync(dialled) ? readFileSync(dialled, "utf8") : "").toBe("");

    const missing = await userStack("menagerie");
    withRegistryApp(missing, `${registry.host}/circuitforge/falcon:2.0`);
    const f = await preview(missing, "menagerie + falcon, tag not pushed");
    const out = f.stdout + f.stderr;
    expect(f.code).not.toBe(0);
    expect(out).toContain(
      `error: stack menagerie: cannot resolve the digest of ${registry.host}/circuitforge/falcon:2.0: registry ${registry.host}: got bad response from registry: 404 Not Found (pin digests under fleet:menagerie.apps[].images.<service>.digest, or make the registry reachable from here)`,
    );
    expect(out).not.toContain("error serializing property");
  });

  it("daarion: every image's digest looked up in the registry by the real docker provider, without a Docker daemon", async () => {
    const c = await userStack("daarion");
    editDaarion(c, (d) => atLocalRegistry(d));
    const before = registry.manifestRequests().length;
    const r = await preview(c, "daarion, digests from the local registry");
    expect(r.stderr + r.stdout).not.toMatch(/error:/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\+ +pulumi:providers:docker +daarion-registry +create/);
    expect(r.stdout).toMatch(/Resources:\n +\+ \d+ to create/);
    // The stack outputs name each node's images pinned by the digest the registry holds.
    const shown = [...r.stdout.matchAll(/"(127\.0\.0\.1:\d+\/[^"@]+@sha256:[0-9a-f]{64})"/g)].map((m) => m[1]!);
    expect(shown.length).toBeGreaterThan(20);
    const expected = new Set([...pushed.keys()].map(pinned));
    expect(shown.filter((p) => !expected.has(p))).toEqual([]);
    // Looked up in the registry (each distinct image once), and no Docker host was dialled.
    expect(registry.manifestRequests().length - before).toBeGreaterThanOrEqual(new Set(shown).size);
    expect(existsSync(dialled) ? readFileSync(dialled, "utf8") : "").toBe("");
  });

  it("daarion: digests pinned in config are used as they are: no lookup, no docker provider", async () => {
    const c = await userStack("daarion");
    editDaarion(c, (d) => {
      atLocalRegistry(d);
      const images = d.images as Record<string, { image?: string; digest?: string }>;
      for (const s of CATALOGUE) {
        const image = s.image === "own" ? `${OWN(registry.host)}/${s.name}:latest` : mirrored(registry.host, s.image);
        images[s.name] = { ...images[s.name], digest: pushed.get(image)! };
      }
    });
    const before = registry.manifestRequests().length;
    const r = await preview(c, "daarion, every digest pinned");
    expect(r.stderr + r.stdout).not.toMatch(/error:/);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain("pulumi:providers:docker");
    expect(r.stdout).toContain(`"${pinned(`${OWN(registry.host)}/frontend:latest`)}"`);
    expect(registry.manifestRequests().slice(before)).toEqual([]);
  });

  it("daarion: a tag the registry does not have fails the preview with one line per image, naming the image and the registry", async () => {
    const c = await userStack("daarion");
    editDaarion(c, (d) => atLocalRegistry(d, "not-pushed"));
    const r = await preview(c, "daarion, unknown tag");
    const out = r.stdout + r.stderr;
    expect(r.code).not.toBe(0);
    const failed = out.split("\n").filter((l) => l.includes(":not-pushed: registry "));
    expect(failed.length).toBeGreaterThan(5);
    for (const line of failed) {
      expect(line).toMatch(new RegExp(`^ +- ${OWN(registry.host).replace(/\./g, "\\.")}/[a-z-]+:not-pushed: registry ${registry.host.replace(/\./g, "\\.")}: got bad response from registry: 404 Not Found$`, "i"));
    }
    expect(out).toContain(`stack daarion: cannot resolve ${failed.length} image digests (pin digests under fleet:daarion.images.<service>.digest, or make the registry reachable from here):`);
    expect(out).not.toContain("error serializing property");
    expect(out).not.toContain("failed to connect to any docker daemon");
    expect(out).not.toContain("PromiseRejectionHandledWarning");
    // Nothing past the lookups: no compose file, task or node component was registered.
    expect(out).not.toContain("fleet:stack:Daarion");
  });

  it("daarion: an unreachable registry is one line per image too", async () => {
    const c = await userStack("daarion");
    // Port 1 on loopback: nothing listens there.
    editDaarion(c, (d) => atLocalRegistry(d, "latest", "127.0.0.1:1"));
    const r = await preview(c, "daarion, registry unreachable");
    const out = r.stdout + r.stderr;
    expect(r.code).not.toBe(0);
    const failed = out.split("\n").filter((l) => /^ +- 127\.0\.0\.1:1\//.test(l));
    expect(failed.length).toBeGreaterThan(5);
    for (const line of failed) expect(line).toMatch(/^ +- 127\.0\.0\.1:1\/[a-z/-]+:[a-z0-9.-]+: registry 127\.0\.0\.1:1: dial tcp 127\.0\.0\.1:1: connect: connection refused$/);
    expect(out).not.toContain("error serializing property");
  });
});
