import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { remoteFile } from "../../remote/command";
import { haproxy } from "../../remote/daemons";
import { parseOrThrow } from "../../validation/errors";
import { childName } from "../../naming";
import { type HAProxyLayout, type HAProxyRouteArgs, type HAProxyRouteSpec, haproxyLayoutSchema, haproxyRouteSchema } from "./args";
import { haproxyAssembleScript, renderHaproxyBackend, renderHaproxyMapFragment } from "./render";

/**
 * One virtual host on a shared HAProxy: a backend fragment in `conf.d/` and a
 * host-map fragment in `hosts.d/`. Other routes (from this program or any other)
 * live in their own fragments, so no change to this route can drop them.
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
  /** The raw children. */
  public readonly nodes: { readonly backend: command.remote.Command; readonly map: command.remote.Command };

  constructor(name: string, args: HAProxyRouteArgs, opts?: pulumi.ComponentResourceOptions) {
    const spec = parseOrThrow(`HAProxyRoute "${name}"`, haproxyRouteSchema, routeSpecOf(args));
    const layout = parseOrThrow(`HAProxyRoute "${name}"`, haproxyLayoutSchema, args.layout ?? {});
    super(HAProxyRoute.__pulumiType, name, {}, opts);
    const parent = this;

    const backend = createBackend();
    const map = createMap();

    this.backend = spec.backend;
    this.domains = spec.domains;
    this.nodes = { backend, map };
    this.registerOutputs({ backend: spec.backend, domains: spec.domains });

    function createBackend() {
      return remoteFile(
        childName(name, "backend"),
        {
          host: args.host,
          target: { path: `${layout.fragments}/${spec.backend}.cfg`, owner: "root", group: "root", mode: "0644" },
          daemon: haproxy(args.host.spec, layout),
          content: renderHaproxyBackend(spec),
          transform: args.transform?.backend,
        },
        { parent },
      );
    }

    function createMap() {
      return remoteFile(
        childName(name, "map"),
        {
          host: args.host,
          target: {
            path: `${layout.mapFragments}/${spec.backend}.map`,
            owner: "root",
            group: "root",
            mode: "0644",
            assemble: haproxyAssembleScript(layout),
          },
          daemon: haproxy(args.host.spec, layout),
          content: renderHaproxyMapFragment(spec),
          transform: args.transform?.map,
        },
        // The map points at the backend: create after it, delete before it.
        { parent, dependsOn: [backend] },
      );
    }
  }

  static readonly __pulumiType = "fleet:haproxy:Route";
}

function routeSpecOf(args: HAProxyRouteArgs): unknown {
  const { host: _host, layout: _layout, transform: _transform, ...spec } = args;
  return spec;
}

export type { HAProxyRouteSpec, HAProxyLayout };
