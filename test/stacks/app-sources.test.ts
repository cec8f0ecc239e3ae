/**
 * Issue 13 items 1, 2, 4 and 5 in stacks menagerie and daarion, with the real git against
 * fixture app repositories the test creates (a local bare repository standing for the
 * configured URL; several commits, a branch that moves, branches that break the app):
 * - every app's ref resolved to a commit at preview; the commit is a stack output per app;
 *   a branch that moved is a change; a missing ref fails the preview before any resource;
 *   the host deploys exactly the previewed commit even if the branch moved since;
 * - the app's compose file read at that commit and checked before anything of the app is
 *   registered: every `${VAR}` set, the port the route sends to published, the file there;
 * - the external networks it names are created before `up`;
 * - the route waits for the health check on the app's port.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import { type ConfigSource } from "../../src/config/loader";
import { gitFileReader, type ReadFiles } from "../../src/git/files";
import { GitRefLookupError, gitLsRemote, type LsRemote } from "../../src/git/refs";
import { type MockRun, runProgram } from "../../src/testing/mocks";
import { ConfigError } from "../../src/validation/errors";
import { command, dependsOn, reveal } from "../helpers/inputs";
import { git } from "../helpers/git";
import { runProcessSync } from "../helpers/spawn";
import { daarionConfig, daarionSettings, digestFor, REGISTRY_TOKEN, REPO as DAARION_REPO } from "./daarion-config";
import { cloudCompose, DEMO_COMPOSE, menagerieConfig, PEREGRINE_REPO, runWithSources } from "./menagerie-config";

const URL = PEREGRINE_REPO.url;

let work: string;
let bare: string;
let clone: string;
let daarionBare: string;
let daarionClone: string;

/** peregrine's compose.cloud.yml as the stack's docs want it, plus an external network. */
const CLOUD = `${cloudCompose("peregrine", 8505).replace("    restart: unless-stopped\n", "    restart: unless-stopped\n    networks: [default, shared]\n")}networks:\n  shared:\n    external: true\n    name: cf-shared\n`;

/** Commit `files` (path → text; `null` removes) on `branch` of the clone and push it. */
function commitTo(repo: string, branch: string, files: Record<string, string | null>, message: string): string {
  git(repo, "checkout", "-q", "-B", branch);
  for (const [path, text] of Object.entries(files)) {
    if (text === null) unlinkSync(join(repo, path));
    else writeFileSync(join(repo, path), text);
  }
  git(repo, "add", "-A");
  git(repo, "commit", "-q", "-m", message);
  git(repo, "push", "-q", "-f", "origin", `HEAD:refs/heads/${branch}`);
  return git(repo, "rev-parse", "HEAD");
}

/** The real git, asked about the bare repositories instead of the configured URLs. */
const lsRemote: LsRemote = (url, patterns) => {
  if (url === URL) return gitLsRemote(bare, patterns);
  if (url === DAARION_REPO.url) return gitLsRemote(daarionBare, patterns);
  throw new Error(`unexpected URL ${url}`);
};
let readFiles: ReadFiles;

function configSource(config: Record<string, unknown>, secretKeys: readonly string[]): ConfigSource {
  const flat = new Map(Object.entries(config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
  return {
    get: (key) => flat.get(`fleet:${key}`),
    isSecret: (key) => secretKeys.includes(`fleet:${key}`),
    secret: (key) => pulumi.secret(flat.get(`fleet:${key}`) ?? ""),
    keys: () => [...flat.keys()].filter((k) => k.startsWith("fleet:")).map((k) => k.slice("fleet:".length)),
  };
}

/** menagerie's program (refs resolved, files read) with peregrine at `ref`; the hosts' git fetches answered from the repository at the commit. */
async function menagerieAt(ref: string): Promise<MockRun> {
  const { menagerieProgram } = await import("../../stacks/menagerie");
  const { config, secretKeys } = menagerieConfig({ apps: [{ slug: "peregrine", repo: { url: URL, ref }, port: 8505 }] });
  const { run, failures } = await runWithSources(() => menagerieProgram({ lsRemote, readFiles }), {
    config,
    secretKeys,
    sources: { [`${URL} compose.cloud.yml`]: CLOUD, [`${URL} compose.demo.yml`]: DEMO_COMPOSE },
  });
  expect(failures).toEqual([]);
  return run;
}

/** The program's error, and what it registered before failing. */
async function menagerieFailure(ref: string): Promise<{ error: unknown; run: MockRun }> {
  const { menagerieProgram } = await import("../../stacks/menagerie");
  const { config, secretKeys } = menagerieConfig({ apps: [{ slug: "peregrine", repo: { url: URL, ref }, port: 8505 }] });
  let error: unknown;
  const run = await runProgram(
    async () => {
      try {
        return await menagerieProgram({ source: configSource(config, secretKeys), lsRemote, readFiles });
      } catch (e) {
        error = e;
        return {};
      }
    },
    { stack: "menagerie", config, secretKeys },
  );
  return { error, run };
}

const createText = (run: MockRun, name: string) => String(reveal(command(run, name).inputs.create));
/** The script inside the command's `/bin/sh -c '…'`, its quotes as written (`'\''` → `'`). */
const create = (run: MockRun, name: string) => createText(run, name).replaceAll("'\\''", "'");
const triggers = (run: MockRun, name: string) => JSON.stringify(reveal(command(run, name).inputs.triggers));

/**
 * Run a command's `create` script as the host would, in `dir` instead of `from`, against
 * the bare repository instead of the URL; stdout and stderr back.
 */
function runOnHost(run: MockRun, name: string, from: string, dir: string, url = URL, repo = bare) {
  const script = createText(run, name).replaceAll(from, dir).replaceAll(url, repo);
  return runProcessSync("/bin/sh", ["-c", script]);
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "fleet-app-sources-"));
  bare = join(work, "peregrine.git");
  clone = join(work, "peregrine");
  git(work, "init", "-q", "--bare", bare);
  git(work, "init", "-q", clone);
  git(clone, "remote", "add", "origin", bare);
  commitTo(clone, "main", { "compose.cloud.yml": CLOUD, "compose.demo.yml": DEMO_COMPOSE, "README.md": "one\n" }, "one");
  git(clone, "tag", "-a", "-m", "v2.3.0", "v2.3.0");
  git(clone, "push", "-q", "origin", "v2.3.0");
  // Branches that break the app, each in one way.
  commitTo(clone, "needs-smtp", { "compose.cloud.yml": CLOUD.replace("      CLOUD_MODE: \"true\"\n", "      CLOUD_MODE: \"true\"\n      SMTP_PASSWORD: ${SMTP_PASSWORD}\n") }, "needs SMTP_PASSWORD");
  commitTo(clone, "other-port", { "compose.cloud.yml": CLOUD.replace('"8505:8501"', '"9505:8501"') }, "publishes 9505");
  commitTo(clone, "no-compose", { "compose.cloud.yml": null }, "compose file removed");
  git(clone, "checkout", "-q", "main");
  readFiles = gitFileReader({ cacheDir: join(work, "cache"), fetchUrl: (url) => (url === URL ? bare : url) });

  daarionBare = join(work, "daarion.git");
  daarionClone = join(work, "daarion");
  git(work, "init", "-q", "--bare", daarionBare);
  // As GitHub serves it: the repository task fetches without blobs (--filter=blob:none).
  git(daarionBare, "config", "uploadpack.allowFilter", "true");
  git(work, "init", "-q", daarionClone);
  git(daarionClone, "remote", "add", "origin", daarionBare);
  mkdirSync(join(daarionClone, "migrations"));
  commitTo(daarionClone, "main", { "migrations/001_init.sql": "CREATE TABLE t (id int);\n" }, "one");
  git(daarionClone, "tag", "v1.0.0");
  git(daarionClone, "push", "-q", "origin", "v1.0.0");
}, 60_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("stack menagerie: each app's ref resolved and its files checked at preview", () => {
  it("a tag: the commit of each app and of the demo is a stack output; the checkout and the compose fetch deploy exactly it", async () => {
    const tagged = git(clone, "rev-parse", "v2.3.0^{commit}");
    const run = await menagerieAt("v2.3.0");
    expect(run.outputs?.commits).toEqual({ peregrine: tagged, "peregrine-demo": tagged });
    for (const name of ["peregrine-checkout-command", "peregrine-compose-source", "peregrine-demo-checkout-command", "peregrine-demo-source"]) {
      expect(create(run, name), name).toContain(`if [ "$commit" != '${tagged}' ]`);
    }
    expect(triggers(run, "peregrine-checkout-command")).toContain(`${URL}#v2.3.0@${tagged}`);
  });

  it("a branch that moves is a change; the host deploys the previewed commit even when it moved again since", async () => {
    const first = commitTo(clone, "main", { "README.md": "two\n" }, "two");
    const before = await menagerieAt("main");
    expect((before.outputs?.commits as Record<string, string>).peregrine).toBe(first);
    const again = await menagerieAt("main");
    // Unchanged branch, unchanged inputs: an empty preview.
    for (const name of ["peregrine-checkout-command", "peregrine-compose-source", "peregrine-compose-up", "peregrine-health-check"]) {
      expect(JSON.stringify(reveal(command(again, name).inputs)), name).toBe(JSON.stringify(reveal(command(before, name).inputs)));
    }

    const moved = commitTo(clone, "main", { "README.md": "three\n" }, "three");
    const after = await menagerieAt("main");
    expect((after.outputs?.commits as Record<string, string>).peregrine).toBe(moved);
    // The checkout, the rebuild and the checks re-run (the compose file itself did not change).
    expect(triggers(after, "peregrine-checkout-command")).not.toBe(triggers(before, "peregrine-checkout-command"));
    expect(create(after, "peregrine-compose-up")).not.toBe(create(before, "peregrine-compose-up"));
    expect(triggers(after, "peregrine-health-check")).not.toBe(triggers(before, "peregrine-health-check"));

    // The branch moves once more between preview and up: the host still fetches `moved`.
    const later = commitTo(clone, "main", { "compose.cloud.yml": CLOUD.replace("8505:8501", "8599:8501") }, "four");
    expect(later).not.toBe(moved);
    const dir = join(work, "host-peregrine");
    mkdirSync(dir);
    const checkout = runOnHost(after, "peregrine-checkout-command", "/opt/peregrine-cloud", dir);
    expect(checkout.stderr).toBe("");
    expect(checkout.stdout.trim().split("\n").at(-1)).toBe(moved);
    const fetched = runOnHost(after, "peregrine-compose-source", "/opt/peregrine-cloud", dir);
    expect(fetched.stderr).toBe("");
    expect(Buffer.from(fetched.stdout.trim().split("\n").at(-1)!, "base64").toString("utf8")).toBe(CLOUD);
    git(clone, "reset", "-q", "--hard", moved);
    git(clone, "push", "-q", "-f", "origin", "HEAD:refs/heads/main");
  });

  it("a ref that does not exist fails the preview, naming it, before any resource", async () => {
    const { error, run } = await menagerieFailure("v9.9.9");
    expect(error).toBeInstanceOf(GitRefLookupError);
    expect((error as Error).message).toBe(`stack menagerie (fleet:menagerie.apps[].repo): cannot resolve v9.9.9 of ${URL}: the repository has no branch or tag named v9.9.9`);
    expect(run.resources).toEqual([]);
  });

  it("the compose file at the commit reads a variable the stack does not set: a preview error naming it, the file and the commit; nothing registered", async () => {
    const commit = git(clone, "rev-parse", "needs-smtp");
    const { error, run } = await menagerieFailure("needs-smtp");
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('stack menagerie: apps: peregrine/compose/env/SMTP_PASSWORD: is referenced without a default by service "app" (services/app/environment/SMTP_PASSWORD: ${SMTP_PASSWORD})');
    expect(message).toContain(`(compose.cloud.yml of ${URL} at needs-smtp (${commit}))`);
    expect(run.resources).toEqual([]);
  });

  it("the route's port is not one the compose file publishes: a preview error naming both; nothing registered", async () => {
    const commit = git(clone, "rev-parse", "other-port");
    const { error, run } = await menagerieFailure("other-port");
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(
      `stack menagerie: apps: peregrine/route/caddy/upstreams/0: routes to port 8505, which compose.cloud.yml of ${URL} at other-port (${commit}) does not publish (it publishes 9505); publish 8505 there or route to a port it publishes`,
    );
    expect(run.resources).toEqual([]);
  });

  it("the compose file is not in the repository at the commit: a preview error; nothing registered", async () => {
    const commit = git(clone, "rev-parse", "no-compose");
    const { error, run } = await menagerieFailure("no-compose");
    expect((error as Error).message).toBe(`stack menagerie: apps: peregrine/compose/compose/git/path: compose.cloud.yml is not a file in ${URL} at no-compose (${commit})`);
    expect(run.resources).toEqual([]);
  });

  it("the external network the compose file names is created before up; the route waits for the health check on the port", async () => {
    const run = await menagerieAt("v2.3.0");
    const up = create(run, "peregrine-compose-up");
    const net = up.indexOf("docker network inspect 'cf-shared'");
    expect(net).toBeGreaterThan(-1);
    expect(up.indexOf(" up -d ")).toBeGreaterThan(net);
    expect(dependsOn(run.get("peregrine-route-fragment"))).toContain("peregrine-health");
    // The demo's compose file names no external network: its up creates none.
    expect(create(run, "peregrine-demo-up")).not.toContain("docker network");
  });
});

describe("stack daarion: each node's ref resolved at preview", () => {
  async function daarionAt(ref: string): Promise<MockRun> {
    const { daarionProgram } = await import("../../stacks/daarion");
    const { config, secretKeys } = daarionConfig(daarionSettings({ repo: { url: DAARION_REPO.url, ref } }));
    return runProgram(() => daarionProgram({ lsRemote }), {
      stack: "daarion",
      config,
      secretKeys,
      calls: { [REGISTRY_TOKEN]: (a) => ({ id: String(a.name), name: a.name, sha256Digest: digestFor(String(a.name)) }) },
    });
  }

  it("the commit is an output per node, the repository task deploys exactly it, and a moved branch re-runs the checkout and the migrations", async () => {
    const tagged = git(daarionClone, "rev-parse", "v1.0.0");
    const run = await daarionAt("v1.0.0");
    const nodes = run.outputs?.nodes as Record<string, { commit: string }>;
    expect(nodes.noda1!.commit).toBe(tagged);
    expect(nodes.noda2!.commit).toBe(tagged);
    expect(create(run, "noda1-repo-command")).toContain(`if [ "$commit" != '${tagged}' ]`);

    const before = await daarionAt("main");
    const moved = commitTo(daarionClone, "main", { "migrations/002_more.sql": "ALTER TABLE t ADD COLUMN n int;\n" }, "two");
    const after = await daarionAt("main");
    expect((after.outputs?.nodes as Record<string, { commit: string }>).noda1!.commit).toBe(moved);
    for (const name of ["noda1-repo-command", "noda1-migrate-command"]) expect(triggers(after, name), name).not.toBe(triggers(before, name));

    // The host checks out the previewed commit even after the branch moved again.
    commitTo(daarionClone, "main", { "migrations/003_late.sql": "SELECT 1;\n" }, "three");
    const root = join(work, "noda1");
    mkdirSync(join(root, ".repo"), { recursive: true });
    const r = runOnHost(after, "noda1-repo-command", "/opt/microdao-daarion", root, DAARION_REPO.url, daarionBare);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain(`= ${moved}`);
    expect(readFileSync(join(root, "migrations", "002_more.sql"), "utf8")).toContain("ALTER TABLE");
    expect(() => readFileSync(join(root, "migrations", "003_late.sql"))).toThrow();
  });

  it("a ref that does not exist fails the preview, naming it, before any resource", async () => {
    const { daarionProgram } = await import("../../stacks/daarion");
    const { config, secretKeys } = daarionConfig(daarionSettings({ repo: { url: DAARION_REPO.url, ref: "v9.9.9" } }));
    let error: unknown;
    const run = await runProgram(
      async () => {
        try {
          return await daarionProgram({ source: configSource(config, secretKeys), lsRemote });
        } catch (e) {
          error = e;
          return {};
        }
      },
      { stack: "daarion", config, secretKeys },
    );
    expect(error).toBeInstanceOf(GitRefLookupError);
    expect((error as Error).message).toBe(`stack daarion (fleet:daarion.repo): cannot resolve v9.9.9 of ${DAARION_REPO.url}: the repository has no branch or tag named v9.9.9`);
    expect(run.resources).toEqual([]);
  });
});
