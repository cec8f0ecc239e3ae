import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { type CommandTransform, remoteFiles } from "../../remote/command";
import { haproxy } from "../../remote/daemons";
import { parseOrThrow } from "../../validation/errors";
import { childName } from "../../naming";
import { type HAProxyLayout, type HAProxyRouteArgs, type HAProxyRouteSpec, haproxyLayoutSchema, haproxyRouteSchema } from "./args";
import { haproxyAssembleScript, renderHaproxyBackend, renderHaproxyMapFragment } from "./render";

/**
 * One virtual host on a shared HAProxy: a backend fragment in `conf.d/` and a host-map
 * fragment in `hosts.d/`, written by one resource (`<name>-files`: one SSH session, the
 * backend first, each file validated with the whole config). Other routes (from this
 * program or any other) live in their own fragments, so no change to this route can drop
 * them. The two files are one set on the host: a changed `layout.mapFragments` writes the
 * map fragment in its new directory and removes the old one in the same checked write.
 *
 * The map fragment is `hosts.d/<backend>.route.map`: routes deployed before the two files
 * became one resource wrote `hosts.d/<backend>.map` through a `<name>-map` resource, whose
 * delete (in the state, run after the new resource's update) removes that old file; the
 * host map takes identical lines once, so both files route the same during that `up`
 * (docs/remote-primitive.md, "Round trips and parallelism").
 *
 * #### Route a domain to a backend with a health check
 * ```ts
 * new HAProxyRoute("daedalus", {
 *   host: titania,
 *   backend: "daedalus",
 *   domains: ["daedalus.ouranos.helu.ca"],
 *   healthPath: "/api/health",
 *   servers: [{ name: "puck", address: "puck.incus", port: 22181 }],
 * });
 * ```
 *
 * #### Accept only 200 from the health endpoint
 * ```ts
 * new HAProxyRoute("api", { ...args, healthStatus: "^200$" });
 * ```
 */
export class HAProxyRoute extends pulumi.ComponentResource {
  /** Backend name in HAProxy. */
  public readonly backend: string;
  /** Domains routed to the backend. */
  public readonly domains: readonly string[];
  /** The raw children: one command writes both fragments. */
  public readonly nodes: { readonly files: command.remote.Command };

  constructor(name: string, args: HAProxyRouteArgs, opts?: pulumi.ComponentResourceOptions) {
    const spec = parseOrThrow(`HAProxyRoute "${name}"`, haproxyRouteSchema, routeSpecOf(args));
    const layout = parseOrThrow(`HAProxyRoute "${name}"`, haproxyLayoutSchema, args.layout ?? {});
    super(HAProxyRoute.__pulumiType, name, {}, opts);
    const parent = this;

    const files = createFiles();

    this.backend = spec.backend;
    this.domains = spec.domains;
    this.nodes = { files };
    this.registerOutputs({ backend: spec.backend, domains: spec.domains });

    function createFiles() {
      const hooks = [args.transform?.files, args.transform?.backend, args.transform?.map].filter((h) => h !== undefined);
      return remoteFiles(
        childName(name, "files"),
        {
          host: args.host,
          daemon: haproxy(args.host.spec, layout),
          files: [
            // The map points at the backend: the backend is written first and removed last.
            { target: { path: haproxyBackendPath(layout, spec.backend), owner: "root", group: "root", mode: "0644" }, content: renderHaproxyBackend(spec) },
            {
              target: { path: haproxyMapFragmentPath(layout, spec.backend), owner: "root", group: "root", mode: "0644", assemble: haproxyAssembleScript(layout) },
              content: renderHaproxyMapFragment(spec),
            },
          ],
          transform: hooks.length === 0 ? undefined : (a, o, n) => hooks.forEach((h) => applyHook(h, a, o, n)),
        },
        // The resource that wrote the backend fragment before: kept (an update), not replaced.
        { parent, aliases: [{ name: childName(name, "backend") }] },
      );
    }
  }

  static readonly __pulumiType = "fleet:haproxy:Route";
}

/** Where a route's backend fragment lives. */
export function haproxyBackendPath(layout: HAProxyLayout, backend: string): string {
  return `${layout.fragments}/${backend}.cfg`;
}

/** Where a route's host-map fragment lives (`.route.map`: not the `<backend>.map` of routes deployed as two resources). */
export function haproxyMapFragmentPath(layout: HAProxyLayout, backend: string): string {
  return `${layout.mapFragments}/${backend}.route.map`;
}

/** One transform hook applied in place, whichever form it has. */
function applyHook(hook: CommandTransform, args: command.remote.CommandArgs, opts: pulumi.CustomResourceOptions, name: string): void {
  if (typeof hook === "function") hook(args, opts, name);
  else Object.assign(args, hook);
}

function routeSpecOf(args: HAProxyRouteArgs): unknown {
  const { host: _host, layout: _layout, transform: _transform, ...spec } = args;
  return spec;
}

export type { HAProxyRouteSpec, HAProxyLayout };
