import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { remoteFile } from "../../remote/command";
import { haproxy } from "../../remote/daemons";
import { parseOrThrow } from "../../validation/errors";
import { childName } from "../../naming";
import { type HAProxyFrontendArgs, haproxyFrontendSchema, haproxyLayoutSchema } from "./args";
import { haproxyAssembleScript, renderHaproxyMain } from "./render";

/**
 * The main `haproxy.cfg` of a shared HAProxy: global settings, the `fleet` resolvers
 * every route's servers use, and frontends that route by the host map assembled
 * from per-route fragments. Own it from exactly one program; routes come and go
 * through {@link HAProxyRoute}.
 *
 * #### TLS on 443 with a certificate directory, HTTP redirected
 * ```ts
 * new HAProxyFrontend("titania", { host: titania, https: { certDir: "/etc/haproxy/certs" } });
 * ```
 */
export class HAProxyFrontend extends pulumi.ComponentResource {
  public readonly nodes: { readonly config: command.remote.Command };

  constructor(name: string, args: HAProxyFrontendArgs, opts?: pulumi.ComponentResourceOptions) {
    const { host, layout: layoutInput, transform, ...rest } = args;
    const spec = parseOrThrow(`HAProxyFrontend "${name}"`, haproxyFrontendSchema, rest);
    const layout = parseOrThrow(`HAProxyFrontend "${name}"`, haproxyLayoutSchema, layoutInput ?? {});
    super(HAProxyFrontend.__pulumiType, name, {}, opts);
    const parent = this;

    const config = remoteFile(
      childName(name, "config"),
      {
        host,
        target: {
          path: layout.config,
          owner: "root",
          group: "root",
          mode: "0644",
          // The frontend reads the map: the routes' assemble step builds it (empty is valid)
          // before validating, and the frontend shares the routes' helper (one per host).
          assemble: haproxyAssembleScript(layout),
          // HAProxy's main config: destroy puts back the one from before, or keeps it (docs/destroy.md).
          keepWithoutOriginal: true,
        },
        daemon: haproxy(host.spec, layout),
        content: renderHaproxyMain(spec, layout),
        transform: transform?.config,
      },
      { parent },
    );

    this.nodes = { config };
    this.registerOutputs({});
  }

  static readonly __pulumiType = "fleet:haproxy:Frontend";
}
