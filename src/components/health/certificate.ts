import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { childName } from "../../naming";
import { type CommandTransform, remoteTask } from "../../remote/command";
import { type Host } from "../../remote/host";
import { sh } from "../../remote/quote";
import { parseOrThrow } from "../../validation/errors";
import { domainName, hostname, port } from "../../validation/primitives";

export const certificateCheckSchema = z.strictObject({
  /** Names the served certificate must cover (SAN or wildcard), each checked with SNI. */
  domains: z.array(domainName).min(1).max(32),
  /** Address of the TLS listener, from the checking host. @default "127.0.0.1" */
  address: hostname.default("127.0.0.1"),
  /** @default 443 */
  port: port.default(443),
  /** Fail when the certificate expires within this many days. @default 7 */
  minValidDays: z.number().int().min(0).max(365).default(7),
});
export type CertificateCheckSpec = z.output<typeof certificateCheckSchema>;

export interface CertificateCheckArgs extends z.input<typeof certificateCheckSchema> {
  host: Host;
  triggers?: pulumi.Input<unknown>[];
  transform?: { command?: CommandTransform };
}

/** Script: for each domain, the certificate served with that SNI must match the name and not expire soon. */
export function certificateCheckScript(spec: CertificateCheckSpec): string {
  const seconds = spec.minValidDays * 86400;
  const lines = ["fail=0"];
  for (const d of spec.domains) {
    lines.push(
      `pem=$(openssl s_client -connect ${sh(`${spec.address}:${spec.port}`)} -servername ${sh(d)} </dev/null 2>/dev/null | openssl x509 2>/dev/null) || pem=''`,
      `if [ -z "$pem" ]; then echo ${sh(`fleet: no certificate served on ${spec.address}:${spec.port} for ${d}`)} >&2; fail=1`,
      `elif ! printf '%s\\n' "$pem" | openssl x509 -noout -checkhost ${sh(d)} | grep -q 'does match certificate'; then`,
      `  echo ${sh(`fleet: the certificate served for ${d} does not cover it; it covers: `)}"$(printf '%s\\n' "$pem" | openssl x509 -noout -subject -ext subjectAltName 2>/dev/null | tr '\\n' ' ')" >&2; fail=1`,
      `elif ! printf '%s\\n' "$pem" | openssl x509 -noout -checkend ${seconds} >/dev/null; then`,
      `  echo ${sh(`fleet: the certificate for ${d} expires within ${spec.minValidDays} days: `)}"$(printf '%s\\n' "$pem" | openssl x509 -noout -enddate)" >&2; fail=1`,
      `else echo ${sh(`fleet: certificate covers ${d}`)}; fi`,
    );
  }
  lines.push(`exit "$fail"`);
  return lines.join("\n");
}

/**
 * Verifies, during `pulumi up`, that the certificate a TLS listener serves for each
 * domain covers that name (wildcard or SAN) and is not about to expire.
 *
 * #### HAProxy on Titania serves a certificate for the app's domain
 * ```ts
 * new CertificateCheck("daedalus-cert", { host: titania, domains: ["daedalus.ouranos.helu.ca"] });
 * ```
 */
export class CertificateCheck extends pulumi.ComponentResource {
  public readonly nodes: { readonly command: command.remote.Command };

  constructor(name: string, args: CertificateCheckArgs, opts?: pulumi.ComponentResourceOptions) {
    const { host, triggers, transform: hooks, ...rest } = args;
    const spec = parseOrThrow(`CertificateCheck "${name}"`, certificateCheckSchema, rest);
    super(CertificateCheck.__pulumiType, name, {}, opts);
    const cmd = remoteTask(
      childName(name, "check"),
      // afterReloads: it reads the certificate a daemon serves, after the deploy's reloads.
      { host, run: { body: certificateCheckScript(spec) }, triggers: [...spec.domains, ...(triggers ?? [])], afterReloads: true, transform: hooks?.command },
      { parent: this },
    );
    this.nodes = { command: cmd };
    this.registerOutputs({});
  }

  static readonly __pulumiType = "fleet:health:Certificate";
}
