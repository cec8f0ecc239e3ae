import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { remoteFile } from "../../remote/command";
import { type Host } from "../../remote/host";
import { ConfigError, type Problem } from "../../validation/errors";
import { slug } from "../../validation/primitives";
import { childName } from "../../naming";
import { type CaddyLayout, type CaddyRouteArgs, type CaddyRouteSpec, caddyLayoutSchema, caddyRouteSchema } from "./args";
import { caddyDaemon, caddyTarget, collect } from "./files";
import { caddyPaths, caddyRouteCheckScript, caddyRouteDir, caddyRouteFile, renderCaddyRoute } from "./render";

/**
 * One path of a Caddy site routed to an app: `routes/<site>/<route>.caddy` holding
 * `handle <path> { reverse_proxy … }`, imported by the site block. Adding an app to a
 * site (the seed's "Adding a New App": `handle /falcon*`) is one more CaddyRoute; no
 * other file changes. Two routes of one site claiming the same path are refused.
 *
 * #### Peregrine on the menagerie site, with the session cookie passed as X-CF-Session
 * ```ts
 * new CaddyRoute("peregrine", {
 *   site: menagerie,
 *   route: "peregrine",
 *   path: "/peregrine*",
 *   upstreams: ["http://host.docker.internal:8505"],
 *   headerUp: [{ name: "X-CF-Session", value: "{header.Cookie}" }],
 * });
 * ```
 *
 * #### A route on a site managed by another program
 * ```ts
 * new CaddyRoute("falcon", { site: "menagerie", host: bastion, layout, route: "falcon", path: "/falcon*", upstreams: ["http://host.docker.internal:8506"] });
 * ```
 */
export class CaddyRoute extends pulumi.ComponentResource {
  /** The fragment file's path on the host. */
  public readonly path: string;
  /** The raw children. */
  public readonly nodes: { readonly fragment: command.remote.Command };

  constructor(name: string, args: CaddyRouteArgs, opts?: pulumi.ComponentResourceOptions) {
    const subject = `CaddyRoute "${name}"`;
    const { site: siteArg, host: hostArg, layout: layoutInput, transform, ...rest } = args;
    const problems: Problem[] = [];
    const spec = collect(problems, caddyRouteSchema, rest);
    let siteSlug: string | undefined;
    let host: Host | undefined;
    let layout: CaddyLayout | undefined;
    let siteNode: command.remote.Command | undefined;
    if (typeof siteArg === "object" && siteArg !== null) {
      if (hostArg) problems.push({ path: "host", message: "must be omitted when site is a CaddySite (the route lives on the site's host)" });
      if (layoutInput) problems.push({ path: "layout", message: "must be omitted when site is a CaddySite (the site's layout is used)" });
      siteSlug = siteArg.site;
      host = siteArg.host;
      layout = siteArg.layout;
      siteNode = siteArg.nodes.site;
    } else if (typeof siteArg === "string") {
      siteSlug = collect(problems, slug, siteArg, ["site"]);
      if (!hostArg) problems.push({ path: "host", message: "is required when site is a slug" });
      host = hostArg;
      layout = collect(problems, caddyLayoutSchema, layoutInput ?? {}, ["layout"]);
    } else {
      problems.push({ path: "site", message: "is required: a CaddySite, or the slug of a site managed elsewhere" });
    }
    if (problems.length || !spec || !siteSlug || !host || !layout) throw new ConfigError(subject, problems);
    super(CaddyRoute.__pulumiType, name, {}, opts);
    const parent = this;
    const paths = caddyPaths(layout);
    const path = caddyRouteFile(paths.host, siteSlug, spec.route);

    const fragment = createFragment(spec, host, layout, siteSlug);

    this.path = path;
    this.nodes = { fragment };
    this.registerOutputs({ path });

    function createFragment(r: CaddyRouteSpec, h: Host, l: CaddyLayout, s: string) {
      return remoteFile(
        childName(name, "fragment"),
        {
          host: h,
          target: caddyTarget(path, l, caddyRouteCheckScript(caddyRouteDir(paths.host, s), s)),
          daemon: caddyDaemon(h, l),
          content: renderCaddyRoute(r, s),
          transform: transform?.fragment,
        },
        // Only valid inside its site block: create after the site, delete before it.
        { parent, ...(siteNode ? { dependsOn: [siteNode] } : {}) },
      );
    }
  }

  static readonly __pulumiType = "fleet:caddy:Route";
}
