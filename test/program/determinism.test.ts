/**
 * The same program and config give the same resources with the same inputs, every
 * time: an unchanged program previews empty (DESIGN.md: content hashes, never
 * timestamps). Built twice per config, each in a fresh runProgram.
 */
import { describe, expect, it } from "vitest";
import { fakeDigest } from "../../stacks/render";
import { type MockRun } from "../../src/testing/mocks";
import { buildOuranos, type Variant } from "./ouranos";
import { timestampLike } from "./timestamps";

interface Leaf {
  readonly path: string;
  readonly value: string | number;
}

/** Every string and number in a plain value tree, with its path. */
function plainLeaves(value: unknown, path = ""): Leaf[] {
  if (typeof value === "string" || typeof value === "number") return [{ path, value }];
  if (Array.isArray(value)) return value.flatMap((v, i) => plainLeaves(v, `${path}[${i}]`));
  if (value !== null && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => plainLeaves(v, path ? `${path}.${k}` : k));
  return [];
}

function identity(run: MockRun): string[] {
  return run.resources.map((r) => `${r.type}::${r.name}`);
}

describe("the timestamp detector", () => {
  it("flags ISO dates, Date strings and epoch seconds/ms of today, in strings and numbers", () => {
    const now = Date.now();
    expect(timestampLike(new Date(now).toISOString())).toHaveLength(1);
    expect(timestampLike(`built ${new Date(now).toString()}`).length).toBeGreaterThan(0);
    expect(timestampLike(`v=${Math.floor(now / 1000)}`)).toEqual([String(Math.floor(now / 1000))]);
    expect(timestampLike(now)).toEqual([String(now)]);
    expect(timestampLike(`t-${now}`)).toEqual([String(now)]);
  });

  it("does not flag digests, content hashes, ports or versions", () => {
    const s = Math.floor(Date.now() / 1000);
    // A digest with today's epoch seconds inside it is still a digest.
    const digest = `sha256:${String(s)}${"a".repeat(54)}`;
    expect(timestampLike(`image: nginx@${digest}`)).toEqual([]);
    expect(timestampLike(`${String(s)}${"b".repeat(54)}`)).toEqual([]);
    expect(timestampLike(fakeDigest("neo4j:5"))).toEqual([]);
    expect(timestampLike("listen 22181; v1.4.2; 0644; 10.10.0.0/24")).toEqual([]);
    expect(timestampLike(22181)).toEqual([]);
    expect(timestampLike('{"Version":"2012-10-17","Statement":[]}')).toEqual([]);
    expect(timestampLike('{"created":"2012-10-17"}')).toEqual(["2012-10-17"]);
  });
});

describe.each<Variant>(["stack file", "all secrets set"])("ouranos built twice (%s)", (variant) => {
  it("registers the same resources, in the same order, with deep-equal inputs and no timestamps", async () => {
    const first = await buildOuranos(variant);
    // A moment later: a timestamp (even in seconds) would differ.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const second = await buildOuranos(variant);

    expect(first.run.resources.length).toBeGreaterThan(50);
    expect(identity(second.run)).toEqual(identity(first.run));
    expect(new Set(identity(first.run)).size).toBe(first.run.resources.length);
    for (const [i, a] of first.run.resources.entries()) {
      const b = second.run.resources[i]!;
      expect({ resource: `${b.type}::${b.name}`, inputs: b.inputs }).toEqual({ resource: `${a.type}::${a.name}`, inputs: a.inputs });
      if (a.custom) expect(Object.keys(a.inputs).length, `${a.type}::${a.name} has resolved inputs`).toBeGreaterThan(0);
    }
    // Both runs registered the same managed files.
    expect(second.filesTo - second.filesFrom).toBe(first.filesTo - first.filesFrom);

    const stamped = first.run.resources.flatMap((r) =>
      plainLeaves(r.inputs).flatMap((l) => timestampLike(l.value).map((t) => `${r.type}::${r.name} ${l.path}: ${t}`)),
    );
    expect(stamped).toEqual([]);
  });
});
