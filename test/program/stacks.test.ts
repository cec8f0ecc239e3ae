/**
 * Safety checks for every stack in the registry (stacks/registry.ts), defined in
 * stack-safety.ts (determinism, child naming, managed files match their records, no
 * secret in a plain input, and that check proven on a leak planted per stack): a stack
 * registered there is covered here without a line of this file changing, except its
 * planted leak below (its test fails until it has one).
 * The runner (`@pulumi/pulumi/cmd/run`) loads each registered stack in runner.test.ts.
 */
import { describe, expect, it } from "vitest";
import { knownStacks } from "../../stacks/render";
import { PLANTED, type PlantedLeak, stackSafetyTests } from "./stack-safety";

/**
 * A leak planted per stack through its own config: a token pasted into an app's
 * repository URL, which every checkout script then carries in plain text. `expect` lists
 * places the check must name (resource and input); it may name more. A stack added to the
 * registry fails its planted-leak test until it has an entry here.
 */
const PLANTED_LEAKS: Readonly<Record<string, PlantedLeak>> = {
  daarion: {
    override: { "fleet:daarion": (v) => ({ ...(v as object), repo: { url: `git@github.com:IvanTytar/${PLANTED}.git`, ref: "main" } }) },
    expect: ["command:remote:Command::noda1-repo-command create", "command:remote:Command::noda1-doc stdin"],
  },
  menagerie: {
    override: {
      "fleet:menagerie": (v) => {
        const m = v as { apps: { repo: object }[] };
        return { ...m, apps: m.apps.map((a, i) => (i === 0 ? { ...a, repo: { ...a.repo, url: `https://git.circuitforge.tech/pyr0ball/${PLANTED}.git` } } : a)) };
      },
    },
    expect: ["command:remote:Command::peregrine-checkout-command create", "command:remote:Command::peregrine-demo-source update"],
  },
  ouranos: {
    override: {
      "fleet:ouranos": (v) => {
        const o = v as { daedalus: { repo: object } };
        return { ...o, daedalus: { ...o.daedalus, repo: { ...o.daedalus.repo, url: `https://git.helu.ca/r/${PLANTED}.git` } } };
      },
    },
    expect: ["command:remote:Command::daedalus-checkout-command create", "command:remote:Command::daedalus-spa-via-haproxy-check triggers[1]"],
  },
};

it("the registry names the three stacks this suite was written against (a new one is covered by describe.each)", () => {
  expect(knownStacks()).toEqual(expect.arrayContaining(["daarion", "menagerie", "ouranos"]));
});

describe.each(knownStacks())("stack %s", (stack) => {
  stackSafetyTests(stack, { plant: Object.hasOwn(PLANTED_LEAKS, stack) ? PLANTED_LEAKS[stack] : undefined });
});
