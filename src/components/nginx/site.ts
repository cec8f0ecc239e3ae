import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { remoteFile } from "../../remote/command";
import { nginx } from "../../remote/daemons";
import { ConfigError, problemsFromZod } from "../../validation/errors";
import { childName } from "../../naming";
import { type NginxLayout, type NginxSiteArgs, type NginxSiteSpec, nginxLayoutSchema, nginxSiteSchema } from "./args";
import { renderNginxSite } from "./render";

/**
 * One nginx `server {}` in its own file, `conf.d/<site>.conf`, with the rate-limit
 * zones and maps it needs (named after the site, so files never collide in the shared
 * http context). Applied by the remote primitive: `nginx -t` on the whole config, then
 * reload; a file nginx refuses is never left in place.
 *
 * #### Daedalus on Puck: SPA, API and a /metrics only internal networks may read
 * ```ts
 * new NginxSite("daedalus", {
 *   host: puck,
 *   site: "daedalus",
 *   listen: 22181,
 *   root: "/srv/daedalus/frontend/build",
 *   spa: true,
 *   trustForwardedProto: true, // TLS ends at HAProxy on Titania
 *   locations: [
 *     { path: "/api/", proxyPass: "http://127.0.0.1:8000" },
 *     { path: "/metrics", proxyPass: "http://127.0.0.1:8000", allow: ["10.10.0.0/24", "172.16.0.0/12", "127.0.0.0/8"] },
 *   ],
 * });
 * ```
 *
 * #### A gateway in front of containers, one rate-limit budget for the API
 * ```ts
 * new NginxSite("gateway", {
 *   host: node1,
 *   site: "daarion",
 *   listen: 80,
 *   resolver: { addresses: ["127.0.0.11"] }, // container names resolve per request
 *   locations: [
 *     { path: "/api/auth/", proxyPass: "http://auth-service:7011/", rateLimit: { zone: "api", rate: "10r/s", burst: 20, nodelay: true } },
 *     { path: "/ws/messaging/", proxyPass: "ws://messaging-service:7004/ws", websocket: true },
 *     { path: "= /health", returnStatus: 200, returnBody: "ok" },
 *   ],
 * });
 * ```
 */
export class NginxSite extends pulumi.ComponentResource {
  /** The site slug (file and zone prefix). */
  public readonly site: string;
  /** Absolute path of the site file on the host. */
  public readonly path: string;
  /** The raw children. */
  public readonly nodes: { readonly config: command.remote.Command };

  constructor(name: string, args: NginxSiteArgs, opts?: pulumi.ComponentResourceOptions) {
    const subject = `NginxSite "${name}"`;
    // Both parsed before throwing, so one error lists every problem (layout ones under layout/).
    const specResult = nginxSiteSchema.safeParse(siteSpecOf(args));
    const layoutResult = nginxLayoutSchema.safeParse(args.layout ?? {});
    if (!specResult.success || !layoutResult.success) {
      throw new ConfigError(subject, [
        ...(specResult.success ? [] : problemsFromZod(specResult.error)),
        ...(layoutResult.success ? [] : problemsFromZod(layoutResult.error, ["layout"])),
      ]);
    }
    const spec: NginxSiteSpec = specResult.data;
    const layout: NginxLayout = layoutResult.data;
    super(NginxSite.__pulumiType, name, {}, opts);
    const parent = this;
    const path = `${layout.confDir}/${spec.site}.conf`;

    const config = createConfig();

    this.site = spec.site;
    this.path = path;
    this.nodes = { config };
    this.registerOutputs({ site: spec.site, path });

    function createConfig() {
      return remoteFile(
        childName(name, "config"),
        {
          host: args.host,
          target: { path, owner: "root", group: "root", mode: "0644" },
          daemon: nginx(args.host.spec),
          content: renderNginxSite(spec),
          transform: args.transform?.config,
        },
        { parent },
      );
    }
  }

  static readonly __pulumiType = "fleet:nginx:Site";
}

function siteSpecOf(args: NginxSiteArgs): unknown {
  const { host: _host, layout: _layout, transform: _transform, ...spec } = args;
  return spec;
}
