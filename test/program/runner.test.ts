/**
 * The program loads the way Pulumi's Node.js runner loads it: `@pulumi/pulumi/cmd/run`
 * with PULUMI_NODEJS_TYPESCRIPT=true (its ts-node, CommonJS as package.json declares no
 * ESM), `main: stacks/index.ts` from Pulumi.yaml, in main's directory as the v3.259
 * language host runs it (the tsconfig option is resolved there). Under mocks, so it
 * covers ouranos too, whose real preview cannot run here (no minio provider). The real
 * CLI, language host and providers are the test of record: test/cli (`npm run cli-test`).
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { runProcess } from "../helpers/spawn";
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

async function runner(stack: string, config: Record<string, unknown>, secretKeys: string[], preview = false): Promise<{ code: number; out: string }> {
  const project = parse(readFileSync(path.join(repo, "Pulumi.yaml"), "utf8")) as { main: string; runtime: { options: { typescript: boolean; tsconfig: string } } };
  const main = path.join(repo, project.main);
  const flat: Record<string, string> = {};
  for (const [k, v] of Object.entries(config)) flat[k] = typeof v === "string" ? v : JSON.stringify(v);
  const r = await runProcess(process.execPath, ["-e", LAUNCHER], {
    // The language host starts the runner in main's directory.
    cwd: path.dirname(main),
    timeoutMs: 180_000,
    // What the language host sets from Pulumi.yaml's runtime options.
    env: { ...process.env, PULUMI_NODEJS_TYPESCRIPT: String(project.runtime.options.typescript), PULUMI_NODEJS_TSCONFIG_PATH: project.runtime.options.tsconfig, FLEET_STACK: stack, FLEET_PREVIEW: String(preview), FLEET_MAIN: main, FLEET_CONFIG: JSON.stringify(flat), FLEET_SECRET_KEYS: JSON.stringify(secretKeys) },
  });
  return { code: r.code, out: r.stdout + r.stderr };
}

describe("stacks/index.ts under Pulumi's Node.js runner", () => {
  it("loads stack ouranos through the runner's ts-node with tsconfig.pulumi.json and registers its resources", async () => {
    // Daedalus's commit pinned: offline, `git ls-remote` cannot reach the app's repository.
    const { config, secretKeys } = ouranosConfig({
      "fleet:ouranos": { daedalus: { repo: { url: "https://git.helu.ca/r/daedalus.git", ref: "v1.4.2", commit: "0123456789abcdef0123456789abcdef01234567" } } },
    });
    const r = await runner("ouranos", config, secretKeys);
    expect(r.out).not.toContain("FAILED");
    expect(r.out).not.toContain("unhandled exception");
    expect(r.out).not.toContain("error: [runtime]");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/RESOURCES (\d{3,}) \["pulumi:pulumi:Stack fleet-ouranos","fleet:stack:Ouranos ouranos"\]/);
  });

  it("loads stack menagerie as a preview (git-fetched compose files are unknown until up)", async () => {
    const { menagerieConfig } = await import("../stacks/menagerie-config");
    const { config, secretKeys } = menagerieConfig();
    const r = await runner("menagerie", config, secretKeys, true);
    expect(r.out).not.toContain("unhandled exception");
    expect(r.out).not.toContain("error: [runtime]");
    expect(r.out).toMatch(/RESOURCES (\d{2,}) \["pulumi:pulumi:Stack fleet-menagerie","fleet:stack:Menagerie menagerie"\]/);
  });

  it("loads stack daarion", async () => {
    const { daarionConfig } = await import("../stacks/daarion-config");
    const { config, secretKeys } = daarionConfig();
    const r = await runner("daarion", config, secretKeys);
    expect(r.out).not.toContain("unhandled exception");
    expect(r.out).not.toContain("error: [runtime]");
    // The registry reader first: every digest is looked up before the stack's resources.
    expect(r.out).toMatch(/RESOURCES (\d{2,}) \["pulumi:pulumi:Stack fleet-daarion","pulumi:providers:docker daarion-registry"\]/);
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
