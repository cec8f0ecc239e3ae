/**
 * The URNs the engine gives what a program registered under mocks, and the URNs each
 * resource's aliases resolve to, computed the way the engine does: the type part is the
 * whole chain of parent types (the root stack excluded), and a child inherits one alias
 * per alias of its parent, with the parent's old name swapped into its own name's prefix
 * (`inheritedChildAlias`/`allAliases` in @pulumi/pulumi's resource.js). The mock monitor's
 * own URNs keep only the last parent type, so they cannot prove a rename.
 */
import type * as pulumi from "@pulumi/pulumi";
import { type MockRun, type RecordedResource } from "../../src/testing/mocks";

interface ResourceInternals {
  readonly __pulumiType: string;
  readonly __name: string;
  readonly __parentResource?: ResourceInternals;
}

const STACK_TYPE = "pulumi:pulumi:Stack";

function internals(r: unknown): ResourceInternals | undefined {
  return r as ResourceInternals | undefined;
}

/** `urn:pulumi:<stack>::<project>::<type chain>::<name>` under `parentUrn` (undefined: the root stack). */
export function childUrn(stack: string, project: string, type: string, name: string, parentUrn: string | undefined): string {
  if (parentUrn === undefined) return `urn:pulumi:${stack}::${project}::${type}::${name}`;
  const prefix = parentUrn.substring(0, parentUrn.lastIndexOf("::")) + "$";
  if (prefix.endsWith(`::${STACK_TYPE}$`)) return `urn:pulumi:${stack}::${project}::${type}::${name}`;
  return `${prefix}${type}::${name}`;
}

export interface ResolvedUrns {
  /** The resource's URN now. */
  readonly urn: string;
  /** The URNs its aliases (own and inherited) resolve to. */
  readonly aliases: readonly string[];
  readonly resource: RecordedResource;
}

/** Every recorded resource with its URN and alias URNs. */
export function resolveUrns(run: MockRun, stack: string, project = "fleet"): ResolvedUrns[] {
  const byKey = new Map(run.resources.map((r) => [`${r.type}::${r.name}`, r]));
  const memo = new Map<string, { urn: string; aliases: string[] }>();

  function resolve(type: string, name: string, parent: ResourceInternals | undefined): { urn: string; aliases: string[] } {
    const key = `${type}::${name}`;
    const done = memo.get(key);
    if (done) return done;
    const rec = byKey.get(key);
    const p = parent && parent.__pulumiType !== STACK_TYPE ? resolve(parent.__pulumiType, parent.__name, parent.__parentResource) : undefined;
    const urn = childUrn(stack, project, type, name, p?.urn);
    const own = (rec?.opts.aliases ?? []).map((alias) => collapse(alias, type, name, p?.urn));
    const aliases = [...own];
    for (const parentAlias of p?.aliases ?? []) {
      // One per parent alias for the child's own name, and one per own alias under it.
      aliases.push(inherited(name, parent!.__name, parentAlias, type));
      for (const a of own) aliases.push(inherited(nameOf(a), parent!.__name, parentAlias, typeOf(a)));
    }
    const out = { urn, aliases };
    memo.set(key, out);
    return out;
  }

  function collapse(alias: pulumi.Input<string | pulumi.Alias>, type: string, name: string, parentUrn: string | undefined): string {
    if (typeof alias === "string") return alias;
    const a = alias as pulumi.Alias;
    for (const k of ["name", "type", "stack", "project", "parent"] as const) {
      if (a[k] !== undefined && typeof a[k] !== "string" && !isResource(a[k])) throw new Error(`alias ${k} of ${name} is not a plain value; resolve it first`);
    }
    let aliasParent = parentUrn;
    if (a.parent !== undefined) {
      const ap = internals(a.parent);
      aliasParent = typeof a.parent === "string" ? a.parent : ap && ap.__pulumiType !== STACK_TYPE ? resolve(ap.__pulumiType, ap.__name, ap.__parentResource).urn : undefined;
    }
    return childUrn((a.stack as string | undefined) ?? stack, (a.project as string | undefined) ?? project, (a.type as string | undefined) ?? type, (a.name as string | undefined) ?? name, aliasParent);
  }

  function inherited(childName: string, parentName: string, parentAlias: string, childType: string): string {
    const aliasName = childName.startsWith(parentName) ? nameOf(parentAlias) + childName.substring(parentName.length) : childName;
    return childUrn(stack, project, childType, aliasName, parentAlias);
  }

  return run.resources.map((r) => ({ ...resolve(r.type, r.name, internals(r.opts.parent)), resource: r }));
}

function isResource(v: unknown): boolean {
  return typeof v === "object" && v !== null && "__pulumiType" in v;
}

function nameOf(urn: string): string {
  return urn.substring(urn.lastIndexOf("::") + 2);
}

function typeOf(urn: string): string {
  const qualified = urn.split("::")[2]!;
  return qualified.split("$").pop()!;
}
