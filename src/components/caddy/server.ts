import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { remoteFile } from "../../remote/command";
import { type Host } from "../../remote/host";
import { sh } from "../../remote/quote";
import { ConfigError, type Problem } from "../../validation/errors";
import { childName } from "../../naming";
import { type CaddyLayout, type CaddyServerArgs, type CaddyServerRef, type CaddyServerSpec, caddyLayoutSchema, caddyServerSchema } from "./args";
import { caddyDaemon, caddyTarget, collect } from "./files";
import { caddyPaths, renderCaddyfile } from "./render";

/**
 * The main Caddyfile of one Caddy: global options, then `import sites/*.caddy`. Sites
 * ({@link CaddySite}) and their routes ({@link CaddyRoute}) live in their own files, so
 * one app's deploy never rewrites another's. Own it from exactly one program.
 *
 * #### Caddy on the host
 * ```ts
 * const caddy = new CaddyServer("caddy", { host: bastion, email: "ops@example.com" });
 * ```
 *
 * #### Caddy in the `caddy-proxy` container (Peregrine's menagerie)
 * ```ts
 * const caddy = new CaddyServer("caddy", {
 *   host: bastion,
 *   layout: { configDir: "/devl/caddy-proxy", container: { name: "caddy-proxy", configDir: "/etc/caddy" } },
 * });
 * ```
 * Files are then rewritten in place and applied with `docker restart caddy-proxy`.
 */
export class CaddyServer extends pulumi.ComponentResource implements CaddyServerRef {
  /** The host Caddy runs on. */
  public readonly host: Host;
  /** Where Caddy's files live. */
  public readonly layout: CaddyLayout;
  /** The Caddyfile's path on the host. */
  public readonly path: string;
  /** The raw children. */
  public readonly nodes: { readonly caddyfile: command.remote.Command };

  constructor(name: string, args: CaddyServerArgs, opts?: pulumi.ComponentResourceOptions) {
    const subject = `CaddyServer "${name}"`;
    const { host, layout: layoutInput, transform, ...rest } = args;
    const problems: Problem[] = [];
    const spec = collect(problems, caddyServerSchema, rest);
    const layout = collect(problems, caddyLayoutSchema, layoutInput ?? {}, ["layout"]);
    if (spec?.admin === "off" && layout && !layout.container) {
      // `systemctl reload caddy` and `caddy reload` both go through the admin endpoint.
      problems.push({ path: "admin", message: 'must not be "off" for Caddy on the host: reloads go through the admin endpoint (off only suits a container that is restarted)' });
    }
    if (problems.length || !spec || !layout) throw new ConfigError(subject, problems);
    super(CaddyServer.__pulumiType, name, {}, opts);
    const parent = this;
    const paths = caddyPaths(layout);

    const caddyfile = createCaddyfile(spec, layout);

    this.host = host;
    this.layout = layout;
    this.path = paths.host.caddyfile;
    this.nodes = { caddyfile };
    this.registerOutputs({ path: paths.host.caddyfile });

    function createCaddyfile(s: CaddyServerSpec, l: CaddyLayout) {
      return remoteFile(
        childName(name, "caddyfile"),
        {
          host,
          // The directories the Caddyfile imports from exist before it is validated.
          // Caddy's main config: destroy puts back the one from before, or keeps it (docs/destroy.md).
          target: { ...caddyTarget(paths.host.caddyfile, l, `mkdir -p ${sh(paths.host.sitesDir)} ${sh(paths.host.routesDir)}`), keepWithoutOriginal: true },
          daemon: caddyDaemon(host, l),
          content: renderCaddyfile(s, paths.caddy),
          transform: transform?.caddyfile,
        },
        { parent },
      );
    }
  }

  static readonly __pulumiType = "fleet:caddy:Server";
}
