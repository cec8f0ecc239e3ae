/**
 * The program loads the way Pulumi's Node.js runner loads it: `@pulumi/pulumi/cmd/run`
 * with PULUMI_NODEJS_TYPESCRIPT=true (its ts-node, CommonJS as package.json declares no
 * ESM), `main: stacks/index.ts` from Pulumi.yaml, in main's directory as the v3.259
 * language host runs it (the tsconfig option is resolved there). Every stack in the
 * registry (stacks/registry.ts), from its own stack file. Under mocks, so it covers
 * ouranos too, whose real preview cannot run here (no minio provider). The real
 * CLI, language host and providers are the test of record: test/cli (`npm run cli-test`).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { knownStacks, readStackConfig } from "../../stacks/render";
import { appRepositories } from "../helpers/app-repositories";
import { HANG_LIMIT_MS, runProcess } from "../helpers/spawn";
import { PROMISE_STACKS_PRELUDE } from "../helpers/stack-traces";
import { ouranosConfig } from "../stacks/ouranos-config";

const repo = path.resolve(__dirname, "../..");

const LAUNCHER = `
const pulumi = require("@pulumi/pulumi");
const resources = [];
(async () => {
  await pulumi.runtime.setMocks({
    newResource: (a) => {
      resources.push(a.type + " " + a.name);
      const extra = a.type === "random:index/randomPassword:RandomPassword" ? { result: "generated-" + a.name }
        : a.type === "random:index/randomBytes:RandomBytes" ? { base64: Buffer.alloc(32, 7).toString("base64") } : {};
      return { id: a.name + "-id", state: { ...a.inputs, ...extra } };
    },
    call: (a) => {
      if (a.token === "docker:index/getRegistryImage:getRegistryImage") return { name: a.inputs.name, sha256Digest: "sha256:" + "d".repeat(64) };
      throw new Error("Mock not implemented: " + a.token);
    },
  }, "fleet", process.env.FLEET_STACK, process.env.FLEET_PREVIEW === "true");
  pulumi.runtime.setAllConfig(JSON.parse(process.env.FLEET_CONFIG), JSON.parse(process.env.FLEET_SECRET_KEYS));
  // Exactly what the language host starts: cmd/run with the program from Pulumi.yaml's main.
  // The mock monitor set above stays in place; --monitor only satisfies the flag check.
  process.argv = [process.argv[0], "run", "--monitor=mock", "--project=fleet", "--stack=" + process.env.FLEET_STACK, process.env.FLEET_MAIN];
  require("@pulumi/pulumi/cmd/run");
  process.on("exit", () => console.log("RESOURCES " + resources.length + " " + JSON.stringify(resources.slice(0, 2))));
})().catch((e) => { console.log("FAILED " + (e && e.message ? e.message.split("\\n")[0] : String(e))); process.exitCode = 1; });
`;

async function runner(stack: string, config: Record<string, unknown>, secretKeys: string[], preview = false, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string }> {
  const project = parse(readFileSync(path.join(repo, "Pulumi.yaml"), "utf8")) as { main: string; runtime: { options: { typescript: boolean; tsconfig: string } } };
  const main = path.join(repo, project.main);
  const flat: Record<string, string> = {};
  for (const [k, v] of Object.entries(config)) flat[k] = typeof v === "string" ? v : JSON.stringify(v);
  // The prelude only shortens the stack text Pulumi records per promise for its leak report
  // (test/helpers/stack-traces.ts): a third of a load's CPU under ts-node's source maps.
  const r = await runProcess(process.execPath, ["-e", PROMISE_STACKS_PRELUDE + LAUNCHER], {
    // The language host starts the runner in main's directory.
    cwd: path.dirname(main),
    timeoutMs: HANG_LIMIT_MS,
    // What the language host sets from Pulumi.yaml's runtime options.
    env: { ...process.env, ...env, PULUMI_NODEJS_TYPESCRIPT: String(project.runtime.options.typescript), PULUMI_NODEJS_TSCONFIG_PATH: project.runtime.options.tsconfig, FLEET_STACK: stack, FLEET_PREVIEW: String(preview), FLEET_MAIN: main, FLEET_CONFIG: JSON.stringify(flat), FLEET_SECRET_KEYS: JSON.stringify(secretKeys) },
  });
  return { code: r.code, out: r.stdout + r.stderr };
}

describe("stacks/index.ts under Pulumi's Node.js runner", () => {
  // A stack resolves its apps' refs with `git ls-remote` at preview and reads their files
  // at the commit (the real git); offline, the repositories its stack file names are local.
  let gitDir = "";
  let gitEnv: Record<string, string> = {};
  beforeAll(() => {
    gitDir = mkdtempSync(path.join(tmpdir(), "fleet-runner-git-"));
    gitEnv = { ...appRepositories(path.join(gitDir, "repos")), XDG_CACHE_HOME: path.join(gitDir, "cache") };
  });
  afterAll(() => rmSync(gitDir, { recursive: true, force: true }));

  // Every registered stack from its own stack file (secrets as markers, as `npm run render`
  // reads it), as `pulumi preview` runs it: a stack added to the registry is loaded here too.
  it.each(knownStacks())("loads stack %s from its stack file through the runner's ts-node with tsconfig.pulumi.json", async (stack) => {
    const { config, secretKeys } = readStackConfig(stack);
    const r = await runner(stack, config, secretKeys, true, gitEnv);
    expect(r.out).not.toContain("FAILED");
    expect(r.out).not.toContain("unhandled exception");
    expect(r.out).not.toContain("error: [runtime]");
    expect(r.code).toBe(0);
    const m = /RESOURCES (\d+) \["([^"]*)"/.exec(r.out);
    expect(m?.[2]).toBe(`pulumi:pulumi:Stack fleet-${stack}`);
    // The stack's own resources, not only the root the runner registers.
    expect(Number(m?.[1])).toBeGreaterThan(10);
  });

  it("refuses an unknown stack with a clear message", async () => {
    const { config, secretKeys } = ouranosConfig();
    const r = await runner("nope", config, secretKeys);
    expect(r.out).toContain('stack "nope": stack: has no composition in stacks/; known stacks: daarion, menagerie, ouranos');
  });

  it("reports bad config without registering resources", async () => {
    const { config, secretKeys } = ouranosConfig({ "fleet:hosts": { puck: { address: "puck incus" } } });
    const r = await runner("ouranos", config, secretKeys);
    expect(r.out).toContain("fleet:hosts/puck/address: must be a DNS name");
    // Pulumi prints a ConfigError as its message only (a RunError), not an object dump.
    expect(r.out).not.toContain("problems: [");
    // Only the root stack resource the runner itself registers.
    expect(r.out).toContain('RESOURCES 1 ["pulumi:pulumi:Stack fleet-ouranos"]');
  });
});
