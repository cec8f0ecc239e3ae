/**
 * Transform hooks (SST style): every child a user may want to tweak can be adjusted
 * through `transform.<child>`: a partial object is merged into the child's args, a
 * callback may mutate args and options in place.
 */
import * as pulumi from "@pulumi/pulumi";

export type Transform<Args> =
  | Partial<Args>
  | ((args: Args, opts: pulumi.CustomResourceOptions, name: string) => void);

/** Apply `hook` to a child's `[name, args, opts]` and return the tuple to spread into `new`. */
export function transform<Args extends object>(
  hook: Transform<Args> | undefined,
  name: string,
  args: Args,
  opts: pulumi.CustomResourceOptions,
): [string, Args, pulumi.CustomResourceOptions] {
  if (hook === undefined) return [name, args, opts];
  if (typeof hook === "function") {
    const a = { ...args };
    const o = { ...opts };
    hook(a, o, name);
    return [name, a, o];
  }
  return [name, { ...args, ...hook }, opts];
}

/**
 * A transform that makes a child wait for `deps`. A component's own `dependsOn`
 * orders only the component, not the children it creates (Pulumi does not
 * propagate it), so ordering between children of different components goes
 * through their transform hooks:
 * @example new SystemdUnit("api", { ..., transform: { restart: after(migrate) } })
 */
export function after<Args>(...deps: pulumi.Resource[]): Transform<Args> {
  return (_args, opts) => {
    const existing = opts.dependsOn;
    const list: pulumi.Input<pulumi.Resource>[] = existing === undefined ? [] : Array.isArray(existing) ? [...(existing)] : [existing as pulumi.Input<pulumi.Resource>];
    opts.dependsOn = [...list, ...deps];
  };
}

/**
 * A transform that gives a child aliases: where a restructuring moved or renamed it
 * (a new parent component, a role name), the aliases name its old identity so an
 * existing deployment keeps it instead of deleting and recreating it.
 * @example new AppDeployment("peregrine-demo", { ..., transform: { compose: aliased({ name: "peregrine-demo", parent: stack }) } })
 */
export function aliased<Args>(...aliases: pulumi.Input<pulumi.URN | pulumi.Alias>[]): (args: Args, opts: pulumi.CustomResourceOptions) => void {
  const byUrn = aliases.map(parentByUrn);
  return (_args: Args, opts: pulumi.CustomResourceOptions) => {
    opts.aliases = [...(opts.aliases ?? []), ...byUrn];
  };
}

/**
 * The alias "this resource was a child of `parent`" (with its name and type as now), the
 * parent given by its URN: the same alias URN as `{ parent }` (Pulumi derives it from
 * `parent.urn` either way), but Pulumi checks every alias it is given for unknown values
 * by walking it, and a resource reaches, through its fields, much of the program (a
 * stack's components, their children): thousands of objects per alias, a quarter of a
 * stack's build under mocks.
 */
export function formerParent(parent: pulumi.Resource, alias: Omit<pulumi.Alias, "parent"> = {}): pulumi.Alias {
  return { ...alias, parent: parent.urn };
}

/** An alias with a resource as its old parent given by {@link formerParent}; any other as it is. */
function parentByUrn(alias: pulumi.Input<pulumi.URN | pulumi.Alias>): pulumi.Input<pulumi.URN | pulumi.Alias> {
  if (typeof alias !== "object" || pulumi.Output.isInstance(alias) || alias instanceof Promise) return alias;
  const { parent, ...rest } = alias;
  return pulumi.Resource.isInstance(parent) ? formerParent(parent, rest) : alias;
}
