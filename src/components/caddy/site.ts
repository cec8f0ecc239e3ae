import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { remoteFile } from "../../remote/command";
import { type Host } from "../../remote/host";
import { ConfigError, type Problem } from "../../validation/errors";
import { childName } from "../../naming";
import { type CaddyLayout, type CaddySiteArgs, type CaddySiteRef, type CaddySiteSpec, caddyLayoutSchema, caddySiteSchema } from "./args";
import { caddyDaemon, caddyTarget, collect } from "./files";
import { caddyPaths, caddyRouteDir, caddySiteFile, renderCaddySite } from "./render";

/**
 * One Caddy site block in `sites/<site>.caddy`: addresses, compression, access log, a
 * fallback answer, and `import routes/<site>/*.caddy` where each {@link CaddyRoute}
 * adds one `handle <path>` block. Validated with `caddy validate` on the whole Caddyfile.
 *
 * #### The Peregrine cloud site
 * ```ts
 * const menagerie = new CaddySite("menagerie", {
 *   server: caddy,
 *   site: "menagerie",
 *   addresses: ["menagerie.circuitforge.tech"],
 *   encode: ["gzip", "zstd"],
 *   fallback: { body: "This app is not yet available in the managed cloud — check back soon.", status: 503 },
 *   log: { output: "/data/logs/menagerie.circuitforge.tech.log", format: "json" },
 * });
 * ```
 *
 * #### A site on a Caddy whose Caddyfile another program owns
 * ```ts
 * new CaddySite("demo", { host: bastion, layout: { configDir: "/etc/caddy" }, site: "demo", addresses: ["demo.example.com"] });
 * ```
 */
export class CaddySite extends pulumi.ComponentResource implements CaddySiteRef {
  /** The site slug (file and route directory name). */
  public readonly site: string;
  /** The host Caddy runs on. */
  public readonly host: Host;
  /** Where Caddy's files live. */
  public readonly layout: CaddyLayout;
  /** The site file's path on the host. */
  public readonly path: string;
  /** The raw children. */
  public readonly nodes: { readonly site: command.remote.Command };

  constructor(name: string, args: CaddySiteArgs, opts?: pulumi.ComponentResourceOptions) {
    const subject = `CaddySite "${name}"`;
    const { server, host: hostArg, layout: layoutInput, transform, ...rest } = args;
    const problems: Problem[] = [];
    const spec = collect(problems, caddySiteSchema, rest);
    let layout: CaddyLayout | undefined;
    let host: Host | undefined;
    if (server) {
      if (hostArg) problems.push({ path: "host", message: "must be omitted when server is set (the site lives on the server's host)" });
      if (layoutInput) problems.push({ path: "layout", message: "must be omitted when server is set (the server's layout is used)" });
      host = server.host;
      layout = server.layout;
    } else {
      if (!hostArg) problems.push({ path: "host", message: "is required when server is not set" });
      host = hostArg;
      layout = collect(problems, caddyLayoutSchema, layoutInput ?? {}, ["layout"]);
    }
    if (problems.length || !spec || !layout || !host) throw new ConfigError(subject, problems);
    super(CaddySite.__pulumiType, name, {}, opts);
    const parent = this;
    const paths = caddyPaths(layout);
    const path = caddySiteFile(paths.host, spec.site);

    const site = createSite(spec, host, layout);

    this.site = spec.site;
    this.host = host;
    this.layout = layout;
    this.path = path;
    this.nodes = { site };
    this.registerOutputs({ site: spec.site, path, routes: caddyRouteDir(paths.host, spec.site) });

    function createSite(s: CaddySiteSpec, h: Host, l: CaddyLayout) {
      return remoteFile(
        childName(name, "site"),
        {
          host: h,
          target: caddyTarget(path, l),
          daemon: caddyDaemon(h, l),
          content: renderCaddySite(s, paths.caddy),
          transform: transform?.site,
        },
        // Imported by the server's Caddyfile: create after it, delete before it.
        { parent, ...(server ? { dependsOn: [server.nodes.caddyfile] } : {}) },
      );
    }
  }

  static readonly __pulumiType = "fleet:caddy:Site";
}
