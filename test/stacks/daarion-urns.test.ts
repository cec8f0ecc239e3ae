/**
 * Stack `daarion` keeps every resource's identity across the DaarionNode refactor: the
 * URNs the program had before (fixtures, recorded under mocks at 2516718 when a node was
 * a function registering its children straight under the stack) are each reached by
 * exactly one resource now, through its URN or an alias, so an existing deployment sees
 * no create, delete or replace. The only new resources are the node components.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { runProgram } from "../../src/testing/mocks";
import { daarionConfig, daarionSettings, digestFor, REGISTRY_TOKEN } from "./daarion-config";
import { resolveUrns } from "./urns";

/** The configs the fixtures were recorded with: every role, every optional piece (grafana on a development node, the SPA on a federation node). */
const CONFIGS: Record<string, Record<string, unknown>> = {
  three: daarionSettings({
    nodes: [
      { name: "noda1", role: "production", domain: "gateway.daarion.city" },
      { name: "noda2", role: "development", domain: "dev.daarion.city" },
      { name: "noda3", role: "federation", domain: "matrix.daarion.city", services: { add: ["frontend"] } },
    ],
  }),
  overridden: daarionSettings({
    nodes: [
      {
        name: "noda2",
        role: "development",
        domain: "dev.daarion.city",
        services: { add: ["city-service", "grafana"], remove: ["vector-db"] },
        ports: { "auth-service": 7111 },
        requireMerged: true,
        tls: { mount: "/srv/tls" },
      },
    ],
  }),
};

function fixture(label: string): string[] {
  return readFileSync(path.join(__dirname, "fixtures", `daarion-urns-${label}.txt`), "utf8")
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith("#"));
}

describe("stack daarion: resource identities kept (URNs or aliases to them)", () => {
  it.each(Object.keys(CONFIGS))("config %s: every earlier URN is reached by exactly one resource; nothing else is new but the node components", async (label) => {
    const { daarion } = await import("../../stacks/daarion");
    const { config, secretKeys } = daarionConfig(CONFIGS[label]);
    const run = await runProgram(() => daarion(), {
      stack: "daarion",
      config,
      secretKeys,
      calls: { [REGISTRY_TOKEN]: (a) => ({ id: String(a.name), name: a.name, sha256Digest: digestFor(String(a.name)) }) },
    });
    const resolved = resolveUrns(run, "daarion");
    const before = fixture(label);
    const old = new Set(before);

    // No two resources share a URN now.
    const now = resolved.map((r) => r.urn);
    expect(now.length).toBe(new Set(now).size);

    // Each earlier URN: exactly one resource is it, or aliases it.
    const reachedBy = new Map<string, string[]>();
    for (const r of resolved) {
      for (const u of new Set([r.urn, ...r.aliases])) if (old.has(u)) reachedBy.set(u, [...(reachedBy.get(u) ?? []), r.urn]);
    }
    const unreached = before.filter((u) => !reachedBy.has(u));
    expect(unreached).toEqual([]);
    expect(before.filter((u) => reachedBy.get(u)!.length !== 1)).toEqual([]);

    // Everything that reaches no earlier URN is a node component (new, stateless).
    const fresh = resolved.filter((r) => ![r.urn, ...r.aliases].some((u) => old.has(u))).map((r) => `${r.resource.type}::${r.resource.name}`);
    expect(fresh.sort()).toEqual(run.resources.filter((r) => r.type === "fleet:daarion:Node").map((r) => `${r.type}::${r.name}`).sort());
    expect(fresh.length).toBeGreaterThan(0);
  });
});
