/**
 * The identity of every resource a program registers, as the engine computes it: its
 * URN (`urn:pulumi:<stack>::<project>::<parent types $ …>$<type>::<name>`) and the URNs
 * its aliases resolve to: its own `aliases`, and those it inherits from its parent's
 * aliases, with the parent's old name put back at the front of its own (the engine's
 * and the SDK's `inheritedChildAlias`). Computed here from each registration's type,
 * name, parent and aliases, because the mock monitor builds URNs from the parent's last
 * type only.
 *
 * An existing deployment keeps a resource (no replace, no delete + create) when the new
 * program registers it under its old URN or under a resource whose aliases include the
 * old URN. `test/program/aliases.test.ts` checks that against the URNs recorded from the
 * program before a restructuring (`test/program/fixtures/urns/`).
 */
import * as pulumi from "@pulumi/pulumi";
import { type RunOptions, runProgram } from "../../src/testing/mocks";

export interface ResourceIdentity {
  readonly urn: string;
  readonly aliases: readonly string[];
}

interface Node extends ResourceIdentity {
  readonly qualifiedType: string;
  readonly name: string;
}

const typeOf = (urn: string): string => urn.split("::")[2]!;
const nameOf = (urn: string): string => urn.slice(urn.lastIndexOf("::") + 2);

/** Run `program` under mocks (as `runProgram`) and return each resource's URN and alias URNs. */
export async function recordIdentities(program: () => unknown, options: RunOptions = {}): Promise<ResourceIdentity[]> {
  const prefix = `urn:pulumi:${options.stack ?? "test"}::${options.project ?? "fleet"}::`;
  const urn = (qualifiedType: string, name: string) => `${prefix}${qualifiedType}::${name}`;
  const nodes = new Map<pulumi.Resource, Node>();
  const order: Node[] = [];
  // An alias's old parent: a resource, or a resource's URN output (src/transform.ts `formerParent`).
  const parentNode = (p: pulumi.Resource | pulumi.Input<string>): Node | undefined => {
    if (pulumi.Resource.isInstance(p)) return nodes.get(p);
    for (const [r, node] of nodes) if (r.urn === p) return node;
    throw new Error("an alias's parent must be a resource or the URN output of one registered before it");
  };
  await runProgram(() => {
    pulumi.runtime.registerStackTransformation((t) => {
      // The root stack resource is registered before this runs: a parent not seen is the root.
      const parent = t.opts.parent ? nodes.get(t.opts.parent) : undefined;
      const qualifiedType = parent ? `${parent.qualifiedType}$${t.type}` : t.type;
      const own: { name: string; type: string; urn: string }[] = [];
      for (const alias of (t.opts.aliases ?? []) as (string | pulumi.Alias)[]) {
        if (typeof alias === "string") {
          own.push({ name: nameOf(alias), type: typeOf(alias).split("$").pop()!, urn: alias });
          continue;
        }
        const name = plain(alias.name, t.name);
        const type = plain(alias.type, t.type);
        if (alias.stack !== undefined || alias.project !== undefined) throw new Error(`${t.name}: aliases to another stack or project are not modelled here`);
        const aliasParent = Object.hasOwn(alias, "parent") ? (alias.parent ? parentNode(alias.parent) : undefined) : parent;
        own.push({ name, type, urn: urn(aliasParent ? `${aliasParent.qualifiedType}$${type}` : type, name) });
      }
      const inherited: string[] = [];
      for (const parentAlias of parent?.aliases ?? []) {
        for (const base of [{ name: t.name, type: t.type }, ...own]) {
          const name = base.name.startsWith(parent!.name) ? nameOf(parentAlias) + base.name.slice(parent!.name.length) : base.name;
          inherited.push(urn(`${typeOf(parentAlias)}$${base.type}`, name));
        }
      }
      const node: Node = { urn: urn(qualifiedType, t.name), qualifiedType, name: t.name, aliases: [...new Set([...own.map((o) => o.urn), ...inherited])].sort() };
      nodes.set(t.resource, node);
      order.push(node);
      return undefined;
    });
    return program();
  }, options);
  return order.map((n) => ({ urn: n.urn, aliases: n.aliases }));
}

function plain(value: pulumi.Input<string> | undefined, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== "string") throw new Error("alias names and types must be plain strings here");
  return value;
}

/** The URNs of `identities`, one per line, sorted: the fixture format. */
export function urnLines(identities: readonly ResourceIdentity[]): string {
  return `${identities.map((i) => i.urn).sort().join("\n")}\n`;
}

/**
 * A helper installer (`<host>-fleet-<service>-<12 hex>`, src/remote/helper.ts) is named
 * by its helper's content: a new helper version is a new installer that replaces the
 * old one on purpose (docs/remote-primitive.md), whatever the program's structure. Such
 * URNs are compared by count per name without the hash (a host may have two helpers of
 * one service, for two validators), so a change of the helper is not read as a lost
 * resource, while a helper that appears or goes away still is.
 */
const HELPER_INSTALLER = /^(.*::command:remote:Command::[^:]*-fleet-[a-z0-9-]+)-[0-9a-f]{12}$/;

/**
 * How `now` keeps the resources of `before` (URNs): for each old URN, the resource that
 * is it or has it as an alias. Old URNs no resource keeps, old URNs kept by two
 * resources, and resources that are new (neither an old URN nor an alias of one).
 * Helper installers are matched by count per unversioned name (above).
 */
export function compareIdentities(before: readonly string[], now: readonly ResourceIdentity[]): { lost: string[]; ambiguous: string[]; added: string[]; renamed: number } {
  const isInstaller = (urn: string) => HELPER_INSTALLER.test(urn);
  const count = (urns: readonly string[]) => {
    const m = new Map<string, number>();
    for (const u of urns) m.set(u.replace(HELPER_INSTALLER, "$1"), (m.get(u.replace(HELPER_INSTALLER, "$1")) ?? 0) + 1);
    return m;
  };
  const oldInstallers = count(before.filter(isInstaller));
  const newInstallers = count(now.filter((r) => isInstaller(r.urn) && r.aliases.length === 0).map((r) => r.urn));
  const lost: string[] = [];
  const added: string[] = [];
  for (const [name, n] of oldInstallers) for (let k = newInstallers.get(name) ?? 0; k < n; k++) lost.push(`${name}-<hash>`);
  for (const [name, n] of newInstallers) for (let k = oldInstallers.get(name) ?? 0; k < n; k++) added.push(`${name}-<hash>`);

  const rest = before.filter((u) => !isInstaller(u));
  const old = new Set(rest);
  const keepers = new Map<string, string[]>();
  let renamed = 0;
  for (const r of now.filter((x) => !(isInstaller(x.urn) && x.aliases.length === 0))) {
    const kept = [r.urn, ...r.aliases].filter((u) => old.has(u));
    for (const u of kept) keepers.set(u, [...(keepers.get(u) ?? []), r.urn]);
    if (kept.length === 0) added.push(r.urn);
    else if (!old.has(r.urn)) renamed++;
  }
  lost.push(...rest.filter((u) => !keepers.has(u)));
  const ambiguous = [...keepers.entries()].filter(([, rs]) => new Set(rs).size > 1).map(([u, rs]) => `${u} <- ${rs.join(", ")}`);
  return { lost, ambiguous, added: added.sort(), renamed };
}
