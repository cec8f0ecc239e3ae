/**
 * The safety checks every registered stack gets (test/program/stacks.test.ts runs them for
 * each stack in stacks/registry.ts; test/program/new-stack.test.ts for the docs' example):
 * - determinism: built twice (the build the other checks share, and one more at least
 *   1.1 s after it), the same resources in the same order with deep-equal inputs, and no
 *   timestamp in any input (an unchanged program previews empty);
 * - child naming: every child of a fleet component carries its parent's name as prefix
 *   (house style 7), and names are unique per type;
 * - managed files: each file's command puts what remoteFile recorded for it;
 * - secrets: no secret marker (config secret or generated value) in an input that is not
 *   behind a secret Output; and the same check, run on the stack with a marker planted
 *   into a plain input through its config, reports it by resource and input.
 * Each stack is built from its own Pulumi.<stack>.yaml with secrets as markers, as
 * `npm run render` builds it.
 */
import { expect, it } from "vitest";
import { renderGit, renderRunOptions, SECRET_MARKER_PATTERN, stackDefinition } from "../../stacks/render";
import { fleetProgram } from "../../src/remote/command";
import { leaves, type MockRun, runProgram } from "../../src/testing/mocks";
import { buildCache, helperCall } from "../helpers/inputs";
import { timestampLike } from "./timestamps";

/** A config override: the stack file's value of `key` (JSON-decoded) in, the value to run with out. */
export type Override = Readonly<Record<string, (value: unknown) => unknown>>;

/** The stack's program under mocks, from its stack file (what `npm run render` builds), with `override` applied. */
async function build(stack: string, override: Override = {}, root?: string): Promise<MockRun> {
  const opts = renderRunOptions(stack, root);
  const config = { ...opts.config };
  for (const [key, change] of Object.entries(override)) config[key] = JSON.stringify(change(JSON.parse(String(config[key]))));
  // As stacks/index.ts runs it (fleetProgram: batched reloads), so the graph checked is the deployed one.
  return runProgram(fleetProgram(() => stackDefinition(stack).program(renderGit)), { ...opts, config });
}

/**
 * The secret check: every secret marker in a resource input that is not behind a secret
 * Output, as `<type>::<name> <input path>: <marker>`, and how many secret leaves there are.
 */
async function exposedSecrets(run: MockRun): Promise<{ exposed: string[]; secretLeaves: number }> {
  const exposed: string[] = [];
  let secretLeaves = 0;
  for (const r of run.resources) {
    for (const leaf of await leaves(r.props ?? {})) {
      if (leaf.secret) {
        secretLeaves++;
        continue;
      }
      for (const m of leaf.value.matchAll(SECRET_MARKER_PATTERN)) exposed.push(`${r.type}::${r.name} ${leaf.path}: ${m[0]}`);
    }
  }
  return { exposed, secretLeaves };
}

/** What a leak looks like: a secret's marker where a plain value belongs. */
export const PLANTED = "SECRET__planted_token__";

/**
 * One build per stack shared by the checks that only read it, with when it finished
 * (performance.now()); the determinism check compares it with a second build of its own.
 */
const cached = buildCache<{ run: MockRun; at: number }>();

/** How long after the first build the determinism check's second one starts, at least. */
const DETERMINISM_PAUSE_MS = 1100;

function identity(run: MockRun): string[] {
  return run.resources.map((r) => `${r.type}::${r.name}`);
}

/** Every string and number in a plain value tree, with its path. */
function plainLeaves(value: unknown, path = ""): { path: string; value: string | number }[] {
  if (typeof value === "string" || typeof value === "number") return [{ path, value }];
  if (Array.isArray(value)) return value.flatMap((v, i) => plainLeaves(v, `${path}[${i}]`));
  if (value !== null && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => plainLeaves(v, path ? `${path}.${k}` : k));
  return [];
}

/** A leak planted through the stack's config, and places (`<type>::<name> <input path>`) the check must name. */
export interface PlantedLeak {
  readonly override: Override;
  readonly expect: readonly string[];
}

/** The checks for `stack` (registered in stacks/registry.ts), its stack file read from `root`. */
export function stackSafetyTests(stack: string, { root, plant }: { readonly root?: string; readonly plant: PlantedLeak | undefined }): void {
  const builtAt = (s: string) => cached(`${root ?? ""}#${s}`, async () => ({ run: await build(s, {}, root), at: performance.now() }));
  const built = async (s: string): Promise<MockRun> => (await builtAt(s)).run;
  it("every child of a fleet component is named <parent>-<role>, and names are unique per type", async () => {
    const run = await built(stack);
    // The parent's type from the parent itself: an app and its workload may share a name
    // (AppDeployment's `names`, e.g. Mnemosyne's compose project `mnemosyne`).
    const typeOfParent = (r: (typeof run.resources)[number]) => (r.opts.parent as unknown as { __pulumiType?: string } | undefined)?.__pulumiType ?? "";
    const children = run.resources.filter((r) => r.parentName !== undefined && typeOfParent(r).startsWith("fleet:") && !typeOfParent(r).startsWith("fleet:stack:"));
    const offenders = children
      // Same name across a component and its app: Mnemosyne's compose project under its app, a DAARION node's app under the node.
      .filter((r) => !r.name.startsWith(`${r.parentName}-`) && !(r.name === r.parentName && (typeOfParent(r) === "fleet:app:Deployment" || r.type === "fleet:app:Deployment")))
      .map((r) => `${r.parentName} > ${r.name}`);
    expect(offenders).toEqual([]);
    // Not vacuous: the stack has components with children.
    expect(children.length).toBeGreaterThan(5);
    const keys = identity(run);
    expect(keys.length).toBe(new Set(keys).size);
  });

  it("no secret (config secret or generated value) in an input that is not a secret Output", async () => {
    const { exposed, secretLeaves } = await exposedSecrets(await built(stack));
    expect(exposed).toEqual([]);
    // Not vacuous: the stack carries secrets, and they are marked.
    expect(secretLeaves).toBeGreaterThan(0);
  });

  it("every managed file's command puts what remoteFile recorded for it (path, owner, mode, in place, secret), the records tests assert on", async () => {
    const run = await built(stack);
    const files = run.resources.filter((r) => r.file !== undefined);
    const mismatched = files.flatMap((r) => {
      const t = r.file!.target;
      const args = helperCall(r)?.args ?? [];
      const expected = ["put", t.path, "--owner", `${t.owner}:${t.group}`, "--mode", t.mode];
      const ok = expected.every((a, i) => args[i] === a) && args.includes("--in-place") === (t.inPlace === true) && (r.inputs.logging === "none") === r.file!.secret;
      return ok ? [] : [`${r.name}: ${args.join(" ")}`];
    });
    expect(mismatched).toEqual([]);
    // Not vacuous: the stack manages files, each with its record.
    expect(files.length).toBeGreaterThan(0);
  });

  it("the secret check reports a secret planted into a plain input, naming the resource and the input", async () => {
    expect(plant, `stack ${stack}: add a planted leak to PLANTED_LEAKS in test/program/stacks.test.ts`).toBeDefined();
    const { exposed } = await exposedSecrets(await build(stack, plant!.override, root));
    expect(exposed).toEqual(expect.arrayContaining(plant!.expect.map((where) => `${where}: ${PLANTED}`)));
    // Only the planted one: the stack's own secrets stay behind secret Outputs.
    expect(exposed.filter((e) => !e.endsWith(`: ${PLANTED}`))).toEqual([]);
  });

  // Last of the stack's checks: its first build is the one they shared, and the time they took
  // counts towards the pause before the second (the worker sleeps only for what is left).
  it("built twice: the same resources in the same order, deep-equal inputs, no timestamps", async () => {
    const { run: first, at } = await builtAt(stack);
    // A moment after the first build finished: a timestamp (even in seconds) would differ.
    const wait = DETERMINISM_PAUSE_MS - (performance.now() - at);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const second = await build(stack, {}, root);
    expect(first.resources.length).toBeGreaterThan(10);
    expect(identity(second)).toEqual(identity(first));
    for (const [i, a] of first.resources.entries()) {
      const b = second.resources[i]!;
      expect({ resource: `${b.type}::${b.name}`, inputs: b.inputs }).toEqual({ resource: `${a.type}::${a.name}`, inputs: a.inputs });
    }
    const stamped = first.resources.flatMap((r) => plainLeaves(r.inputs).flatMap((l) => timestampLike(l.value).map((t) => `${r.type}::${r.name} ${l.path}: ${t}`)));
    expect(stamped).toEqual([]);
  });
}
