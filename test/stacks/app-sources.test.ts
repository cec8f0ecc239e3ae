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
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import { type ConfigSource } from "../../src/config/loader";
import { gitFileReader, type ReadFiles } from "../../src/git/files";
import { GitRefLookupError, gitLsRemote, type LsRemote } from "../../src/git/refs";
import { type MockRun, runProgram } from "../../src/testing/mocks";
import { ConfigError } from "../../src/validation/errors";
import { parse as parseYaml } from "yaml";
import { command, dependsOn, refused, rerunOf, reveal, revisionHash, stdinOf } from "../helpers/inputs";
import { type FileChange, git, type TestRepository, testRepository } from "../helpers/git";
import { runProcessSync } from "../helpers/spawn";
import { daarionConfig, daarionSettings, digestFor, REGISTRY_TOKEN, REPO as DAARION_REPO } from "./daarion-config";
import { cloudCompose, DEMO_COMPOSE, menagerieConfig, PEREGRINE_REPO, runWithSources } from "./menagerie-config";

const URL = PEREGRINE_REPO.url;

let work: string;
let bare: string;
let clone: string;
let daarionBare: string;
let daarionClone: string;

/** What the compose files build (`build: .`): a Dockerfile at the repository's root. */
const DOCKERFILE = "FROM scratch\nCOPY README.md /\n";

/** peregrine's compose.cloud.yml as the stack's docs want it, plus an external network. */
const CLOUD = `${cloudCompose("peregrine", 8505).replace("    restart: unless-stopped\n", "    restart: unless-stopped\n    networks: [default, shared]\n")}networks:\n  shared:\n    external: true\n    name: cf-shared\n`;

let peregrine: TestRepository;
let daarion: TestRepository;
/** Commit `files` on `branch` of the clone (peregrine's or DAARION's) and push it. */
function commitTo(repo: string, branch: string, files: Record<string, FileChange>, message: string): string {
  return (repo === daarionClone ? daarion : peregrine).commit(branch, files, message);
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
/** What re-runs the command: its triggers (replace) and its script's revision (update). */
const triggers = (run: MockRun, name: string) => JSON.stringify(rerunOf(command(run, name)));

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
  peregrine = testRepository(work, "peregrine");
  bare = peregrine.bare;
  clone = peregrine.clone;
  commitTo(clone, "main", { "compose.cloud.yml": CLOUD, "compose.demo.yml": DEMO_COMPOSE, Dockerfile: DOCKERFILE, "README.md": "one\n" }, "one");
  peregrine.tag("v2.3.0", "v2.3.0");
  // Branches that break the app, each in one way.
  commitTo(clone, "needs-smtp", { "compose.cloud.yml": CLOUD.replace("      CLOUD_MODE: \"true\"\n", "      CLOUD_MODE: \"true\"\n      SMTP_PASSWORD: ${SMTP_PASSWORD}\n") }, "needs SMTP_PASSWORD");
  commitTo(clone, "other-port", { "compose.cloud.yml": CLOUD.replace('"8505:8501"', '"9505:8501"') }, "publishes 9505");
  commitTo(clone, "no-compose", { "compose.cloud.yml": null }, "compose file removed");
  git(clone, "checkout", "-q", "main");
  readFiles = gitFileReader({ cacheDir: join(work, "cache"), fetchUrl: (url) => (url === URL ? bare : url === DAARION_REPO.url ? daarionBare : url) });

  // As GitHub serves it: the repository task fetches without blobs (--filter=blob:none).
  daarion = testRepository(work, "daarion", { allowFilter: true });
  daarionBare = daarion.bare;
  daarionClone = daarion.clone;
  commitTo(daarionClone, "main", { "migrations/001_init.sql": "CREATE TABLE t (id int);\n" }, "one");
  daarion.tag("v1.0.0");
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
    expect(rerunOf(command(run, "peregrine-checkout-command")).revision).toBe(revisionHash([`${URL}#v2.3.0@${tagged}`]));
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
    return runProgram(() => daarionProgram({ lsRemote, readFiles }), {
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
          return await daarionProgram({ source: configSource(config, secretKeys), lsRemote, readFiles });
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

/**
 * Issue 13 item 3 in stack menagerie: compose services with `build:` build on the host from
 * the checkout at the previewed commit, in its own directory (never the one holding the
 * .env), from a context inside it or inside a declared sibling checkout fetched at its own
 * pinned ref; built images are tagged by commit; or the config points them at prebuilt
 * images and nothing builds. Anything else stops the preview naming the service, the
 * context and the fix, before any resource. Fixture repositories with real git; the
 * compose file at each branch is what the host's fetch prints.
 */
describe("stack menagerie: apps built from source", () => {
  const CORE_URL = "https://git.circuitforge.tech/pyr0ball/circuitforge-core.git";
  let core: TestRepository;
  let coreCommit: string;
  /** compose.cloud.yml with the app service's `build:` replaced. */
  const withBuild = (build: string) => CLOUD.replace("    build: .\n", build);
  const BRANCHES: Record<string, Record<string, FileChange>> = {
    // Inside the repository: a subdirectory with its own Dockerfile.
    "build-sub": { "compose.cloud.yml": withBuild("    build:\n      context: ./docker/app\n      dockerfile: Dockerfile.cloud\n"), "docker/app/Dockerfile.cloud": DOCKERFILE },
    // Out of the checkout, into the directory that holds the other checkouts.
    "build-escape": { "compose.cloud.yml": withBuild("    build: ../\n") },
    // Through a link the repository holds: ctx -> .. (out of the checkout on the host).
    "build-link": { "compose.cloud.yml": withBuild("    build: ./ctx/app\n"), ctx: { link: ".." } },
    // A sibling's directory, declared or not.
    "build-sibling": { "compose.cloud.yml": withBuild("    build:\n      context: ../circuitforge-core\n      dockerfile: docker/Dockerfile\n") },
    // Mixed: app builds from the checkout; ollama runs a registry image; worker has a
    // build: section that leaves the checkout, and the config runs its prebuilt image instead.
    "build-mixed": {
      "compose.cloud.yml": `${CLOUD.replace("networks:\n  shared:", "  ollama:\n    image: ollama/ollama:latest\n  worker:\n    build: ../worker\n    image: peregrine-worker:dev\nnetworks:\n  shared:")}`,
    },
  };
  const lsRemoteAll: LsRemote = (url, patterns) => (url === CORE_URL ? gitLsRemote(core.bare, patterns) : lsRemote(url, patterns));
  let reader: ReadFiles;

  beforeAll(() => {
    core = testRepository(work, "circuitforge-core");
    core.commit("main", { "core/__init__.py": "" }, "core zero");
    core.tag("v0.3.0");
    coreCommit = core.commit("main", { "docker/Dockerfile": DOCKERFILE }, "core one");
    core.tag("v0.4.1");
    core.commit("main", { "core/__init__.py": "# moved on\n" }, "core two");
    for (const [branch, files] of Object.entries(BRANCHES)) peregrine.commit(branch, files, branch);
    git(clone, "checkout", "-q", "main");
    reader = gitFileReader({ cacheDir: join(work, "cache-build"), fetchUrl: (url) => (url === URL ? bare : url === CORE_URL ? core.bare : url) });
  });

  function appAt(ref: string, more: Record<string, unknown> = {}) {
    return menagerieConfig({ apps: [{ slug: "peregrine", repo: { url: URL, ref }, port: 8505, ...more }], demo: { enabled: false } });
  }

  async function buildAt(ref: string, more: Record<string, unknown> = {}): Promise<MockRun> {
    const { menagerieProgram } = await import("../../stacks/menagerie");
    const { config, secretKeys } = appAt(ref, more);
    const compose = ref === "v2.3.0" ? CLOUD : String((BRANCHES[ref] as Record<string, string>)["compose.cloud.yml"]);
    const { run, failures } = await runWithSources(() => menagerieProgram({ lsRemote: lsRemoteAll, readFiles: reader }), { config, secretKeys, sources: { [`${URL} compose.cloud.yml`]: compose } });
    expect(failures).toEqual([]);
    return run;
  }

  async function refusedAt(ref: string, more: Record<string, unknown> = {}): Promise<{ message: string; run: MockRun }> {
    const { menagerieProgram } = await import("../../stacks/menagerie");
    const { config, secretKeys } = appAt(ref, more);
    return refused(() => menagerieProgram({ source: configSource(config, secretKeys), lsRemote: lsRemoteAll, readFiles: reader }), { stack: "menagerie", config, secretKeys });
  }

  const deployed = (run: MockRun) => parseYaml(stdinOf(command(run, "peregrine-compose-compose"))) as { services: { app: Record<string, unknown> } };

  it("a context inside the checkout: built from the checkout in its own directory, the image tagged by the commit", async () => {
    const tagged = git(clone, "rev-parse", "v2.3.0^{commit}");
    const run = await buildAt("v2.3.0");
    expect(deployed(run).services.app).toMatchObject({ build: ".", image: `peregrine-cloud-app:${tagged.slice(0, 12)}` });
    const up = create(run, "peregrine-compose-up");
    expect(up).toContain("docker compose --project-name 'peregrine-cloud' --project-directory '/opt/peregrine-cloud/src/peregrine' -f '/opt/peregrine-cloud/compose.cloud.yml' --env-file '/opt/peregrine-cloud/.env' up -d --remove-orphans --build");
    // A rollback runs the images its own deploy built: it never builds the new checkout under old names.
    expect(up).toContain("--env-file '/opt/peregrine-cloud/.fleet/last-good.env' up -d --remove-orphans --no-build");
    // The checkout goes into its own directory, at the previewed commit; the .env stays outside it.
    const dir = join(work, "host-build");
    const checkout = runOnHost(run, "peregrine-checkout-command", "/opt/peregrine-cloud", dir);
    expect(checkout.stderr).toBe("");
    expect(checkout.stdout.trim().split("\n").at(-1)).toBe(tagged);
    expect(readFileSync(join(dir, "src", "peregrine", "Dockerfile"), "utf8")).toBe(DOCKERFILE);

    // A subdirectory with its own Dockerfile: accepted, same tag scheme.
    const sub = await buildAt("build-sub");
    expect(deployed(sub).services.app.image).toBe(`peregrine-cloud-app:${git(clone, "rev-parse", "build-sub").slice(0, 12)}`);
  });

  it("a context that leaves the checkout (..): refused at preview naming the service, the context and the fix; nothing registered", async () => {
    const commit = git(clone, "rev-parse", "build-escape");
    const { message, run } = await refusedAt("build-escape");
    expect(message).toBe(
      `stack menagerie: apps: peregrine/compose/compose/services/app/build: service "app" builds from context "../" (/opt/peregrine-cloud/src), outside the checkout of ${URL} at build-escape (${commit}); keep the context inside the repository, declare the checkout it needs under fleet:menagerie.apps[0].siblings.<name> (url and ref; checked out beside the app's, so the context is ../<name>), or run a prebuilt image for it: images.app (image and digest)`,
    );
    expect(run.resources).toEqual([]);
  });

  it("a context reached through a symbolic link of the repository: refused at preview; nothing registered", async () => {
    const commit = git(clone, "rev-parse", "build-link");
    const { message, run } = await refusedAt("build-link");
    expect(message).toBe(
      `stack menagerie: apps: peregrine/compose/compose/services/app/build: service "app" builds from context "./ctx/app" (/opt/peregrine-cloud/src/peregrine/ctx/app), where ctx is a symbolic link in the checkout of ${URL} at build-link (${commit}), which may lead out of the checkout; name the directory it points to instead`,
    );
    expect(run.resources).toEqual([]);
  });

  it("a sibling's directory: refused until declared; declared, resolved at preview and checked out at its own pinned ref before the build", async () => {
    const commit = git(clone, "rev-parse", "build-sibling");
    const undeclared = await refusedAt("build-sibling");
    expect(undeclared.message).toContain(`service "app" builds from context "../circuitforge-core" (/opt/peregrine-cloud/src/circuitforge-core), outside the checkout of ${URL} at build-sibling (${commit}); keep the context inside the repository, declare the checkout it needs under fleet:menagerie.apps[0].siblings.<name>`);
    expect(undeclared.run.resources).toEqual([]);

    const run = await buildAt("build-sibling", { siblings: { "circuitforge-core": { url: CORE_URL, ref: "v0.4.1" } } });
    const task = "peregrine-sibling-circuitforge-core-command";
    // Before the project comes up, after the app's checkout, serialised with the project.
    expect(dependsOn(run.get("peregrine-compose-up"))).toContain("peregrine-sibling-circuitforge-core");
    expect(create(run, task)).toContain("fleet-compose-peregrine-cloud.lock");
    expect(triggers(run, task)).toContain(`${CORE_URL}#v0.4.1@${coreCommit}`);
    // Nothing changed, nothing to do: the same inputs again (an empty preview).
    const again = await buildAt("build-sibling", { siblings: { "circuitforge-core": { url: CORE_URL, ref: "v0.4.1" } } });
    for (const name of [task, "peregrine-checkout-command", "peregrine-compose-compose", "peregrine-compose-up"]) {
      expect(JSON.stringify(reveal(command(again, name).inputs)), name).toBe(JSON.stringify(reveal(command(run, name).inputs)));
    }
    // The sibling's revision rebuilds the app.
    expect(create(run, "peregrine-compose-up")).not.toBe(create(await buildAt("build-sibling", { siblings: { "circuitforge-core": { url: CORE_URL, ref: "main" } } }), "peregrine-compose-up"));
    // On the host: the sibling lands beside the app's checkout at the pinned commit, even though main moved on.
    const dir = join(work, "host-sibling");
    const r = runProcessSync("/bin/sh", ["-c", createText(run, task).replaceAll("/opt/peregrine-cloud", dir).replaceAll(CORE_URL, core.bare)]);
    expect(r.stderr).toBe("");
    expect(r.stdout.trim().split("\n").at(-1)).toBe(coreCommit);
    expect(readFileSync(join(dir, "src", "circuitforge-core", "docker", "Dockerfile"), "utf8")).toBe(DOCKERFILE);
    expect(readFileSync(join(dir, "src", "circuitforge-core", "core", "__init__.py"), "utf8")).toBe("");
  });

  it("a declared sibling whose pinned ref lacks the Dockerfile the compose file names: refused at preview; nothing registered", async () => {
    const old = git(core.clone, "rev-parse", "v0.3.0^{commit}");
    const { message, run } = await refusedAt("build-sibling", { siblings: { "circuitforge-core": { url: CORE_URL, ref: "v0.3.0" } } });
    expect(message).toBe(
      `stack menagerie: apps: peregrine/compose/compose/services/app/build: service "app" builds with the Dockerfile "docker/Dockerfile" (/opt/peregrine-cloud/src/circuitforge-core/docker/Dockerfile), which is not a file in sibling circuitforge-core (${CORE_URL} at v0.3.0 (${old})); commit it there, or name a file the repository has at that commit`,
    );
    expect(run.resources).toEqual([]);
  });

  it("one service built from the checkout, others run prebuilt images pinned by digest (build: true with images)", async () => {
    const commit = git(clone, "rev-parse", "build-mixed");
    const ollama = `sha256:${"0c".repeat(32)}`;
    const worker = `sha256:${"0d".repeat(32)}`;
    // Unpinned, the worker's build: would leave the checkout: refused at preview, the fix naming images.worker.
    const { message, run: nothing } = await refusedAt("build-mixed", { images: { ollama: { image: "registry.circuitforge.tech/ollama:0.5", digest: ollama } } });
    expect(message).toBe(
      `stack menagerie: apps: peregrine/compose/compose/services/worker/build: service "worker" builds from context "../worker" (/opt/peregrine-cloud/src/worker), outside the checkout of ${URL} at build-mixed (${commit}); keep the context inside the repository, declare the checkout it needs under fleet:menagerie.apps[0].siblings.<name> (url and ref; checked out beside the app's, so the context is ../<name>), or run a prebuilt image for it: images.worker (image and digest)`,
    );
    expect(nothing.resources).toEqual([]);

    const run = await buildAt("build-mixed", { images: { ollama: { image: "registry.circuitforge.tech/ollama:0.5", digest: ollama }, worker: { image: "registry.circuitforge.tech/peregrine-worker:2.3", digest: worker } } });
    const services = (parseYaml(stdinOf(command(run, "peregrine-compose-compose"))) as { services: Record<string, Record<string, unknown>> }).services;
    expect(services.app).toMatchObject({ build: ".", image: `peregrine-cloud-app:${commit.slice(0, 12)}` });
    expect(services.ollama).toEqual({ image: `registry.circuitforge.tech/ollama@${ollama}` });
    expect(services.worker).toEqual({ image: `registry.circuitforge.tech/peregrine-worker@${worker}` });
    // Built on the host from the checkout at the commit: up --build builds app only (the others have no build: left).
    expect(create(run, "peregrine-compose-up")).toContain("up -d --remove-orphans --build");
    expect(run.resources.some((r) => r.name === "peregrine-checkout-command")).toBe(true);
  });

  it("prebuilt images instead: nothing checked out or built, the service runs its pinned image", async () => {
    const digest = `sha256:${"ab".repeat(32)}`;
    const run = await buildAt("build-escape", { build: false, images: { app: { image: "registry.circuitforge.tech/peregrine:2.3", digest } } });
    const app = deployed(run).services.app;
    expect(app.image).toBe(`registry.circuitforge.tech/peregrine@${digest}`);
    expect(app).not.toHaveProperty("build");
    expect(create(run, "peregrine-compose-up")).not.toContain("--build");
    expect(run.resources.some((r) => r.name === "peregrine-checkout-command")).toBe(false);
    // build: false with a build: service the config does not pin: refused, naming it.
    const { message } = await refusedAt("v2.3.0", { build: false });
    expect(message).toContain('peregrine/compose/compose/services/app/build: service "app" builds from source (context ".") but this project does not build: run a prebuilt image for it (images.app: image and digest), or build it from the checkout');
  });
});
