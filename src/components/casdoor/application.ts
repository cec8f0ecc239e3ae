import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { childName } from "../../naming";
import { type CommandTransform, remoteTask } from "../../remote/command";
import { type Host } from "../../remote/host";
import { sh } from "../../remote/quote";
import { parseOrThrow } from "../../validation/errors";
import { httpUrl, oneLine, slug } from "../../validation/primitives";

export const casdoorApplicationSchema = z.strictObject({
  /** Casdoor base URL as reached from `host`. @example "http://127.0.0.1:8000" */
  endpoint: httpUrl,
  /** Application name (owner is always `admin`). */
  name: slug,
  displayName: oneLine,
  /** Organization the application signs users into. */
  organization: slug,
  /** OAuth redirect URIs, e.g. `https://daedalus.ouranos.helu.ca/callback`. */
  redirectUris: z.array(httpUrl).min(1).max(16),
  /** Home page shown in Casdoor. */
  homepageUrl: httpUrl,
});
export type CasdoorApplicationSpec = z.output<typeof casdoorApplicationSchema>;

export interface CasdoorApplicationArgs extends z.input<typeof casdoorApplicationSchema> {
  /** Host the API is called from (the Casdoor/HAProxy host). */
  host: Host;
  /** Casdoor admin API credentials (secrets). */
  clientId: pulumi.Input<string>;
  clientSecret: pulumi.Input<string>;
  transform?: { command?: CommandTransform };
}

/** The application object sent to `add-application`; deterministic key order. */
export function casdoorApplicationBody(spec: CasdoorApplicationSpec): string {
  return JSON.stringify({
    owner: "admin",
    name: spec.name,
    displayName: spec.displayName,
    organization: spec.organization,
    homepageUrl: spec.homepageUrl,
    redirectUris: spec.redirectUris,
    grantTypes: ["authorization_code", "refresh_token"],
    enablePassword: true,
    enableSignUp: false,
    tokenFormat: "JWT",
    expireInHours: 168,
    refreshExpireInHours: 168,
  });
}

/**
 * Script: look the application up; create it when absent. An existing application
 * is left as it is (its generated client credentials must survive), but a missing
 * redirect URI is reported as an error so drift is visible.
 */
export function casdoorApplicationScript(spec: CasdoorApplicationSpec): string {
  const id = encodeURIComponent(`admin/${spec.name}`);
  const api = (path: string) => sh(`${spec.endpoint.replace(/\/$/, "")}/api/${path}`);
  return [
    `auth=$(mktemp); trap 'rm -f "$auth"' EXIT`,
    // Credentials go to curl through a 0600 config file, never through argv.
    // curl's config syntax: backslash and double quote are escaped inside "...".
    `id=$(printf '%s' "$CASDOOR_CLIENT_ID" | sed 's/[\\\\"]/\\\\&/g'); secret=$(printf '%s' "$CASDOOR_CLIENT_SECRET" | sed 's/[\\\\"]/\\\\&/g')`,
    `printf 'user = "%s:%s"\\n' "$id" "$secret" > "$auth"`,
    `existing=$(curl -sS --fail-with-body --max-time 20 -K "$auth" ${api(`get-application?id=${id}`)}) || { echo "fleet: Casdoor get-application failed: $existing" >&2; exit 1; }`,
    `if printf '%s' "$existing" | grep -Eq '"data": *null'; then`,
    `  resp=$(curl -sS --fail-with-body --max-time 20 -K "$auth" -H 'Content-Type: application/json' --data-binary ${sh(casdoorApplicationBody(spec))} ${api("add-application")}) || { echo "fleet: Casdoor add-application failed: $resp" >&2; exit 1; }`,
    `  printf '%s' "$resp" | grep -Eq '"status": *"ok"' || { echo "fleet: Casdoor refused the application: $resp" >&2; exit 1; }`,
    `  echo ${sh(`fleet: created Casdoor application admin/${spec.name}`)}`,
    `else`,
    `  printf '%s' "$existing" | grep -Eq '"status": *"ok"' || { echo "fleet: Casdoor get-application returned an error: $existing" >&2; exit 1; }`,
    ...spec.redirectUris.map(
      (u) =>
        `  printf '%s' "$existing" | grep -qF ${sh(JSON.stringify(u))} || { echo ${sh(`fleet: Casdoor application admin/${spec.name} exists but lacks redirect URI ${u}; add it in Casdoor`)} >&2; exit 1; }`,
    ),
    `  echo ${sh(`fleet: Casdoor application admin/${spec.name} already exists`)}`,
    `fi`,
  ].join("\n");
}

/**
 * A Casdoor SSO application, created idempotently through Casdoor's HTTP API with
 * admin credentials from config (the pattern of the other Agathos services).
 *
 * #### Daedalus behind Casdoor
 * ```ts
 * new CasdoorApplication("daedalus-sso", {
 *   host: titania, endpoint: "http://127.0.0.1:8000", name: "daedalus", displayName: "Daedalus",
 *   organization: "helu", redirectUris: ["https://daedalus.ouranos.helu.ca/callback"],
 *   homepageUrl: "https://daedalus.ouranos.helu.ca/",
 *   clientId: cfg.requireSecret("casdoorClientId"), clientSecret: cfg.requireSecret("casdoorClientSecret"),
 * });
 * ```
 */
export class CasdoorApplication extends pulumi.ComponentResource {
  public readonly nodes: { readonly command: command.remote.Command };

  constructor(name: string, args: CasdoorApplicationArgs, opts?: pulumi.ComponentResourceOptions) {
    const { host, clientId, clientSecret, transform: hooks, ...rest } = args;
    const spec = parseOrThrow(`CasdoorApplication "${name}"`, casdoorApplicationSchema, rest);
    super(CasdoorApplication.__pulumiType, name, {}, opts);
    const cmd = remoteTask(
      childName(name, "apply"),
      {
        host,
        run: { body: casdoorApplicationScript(spec), secretNames: ["CASDOOR_CLIENT_ID", "CASDOOR_CLIENT_SECRET"] },
        secrets: [clientId, clientSecret],
        triggers: [casdoorApplicationBody(spec)],
        transform: hooks?.command,
      },
      { parent: this },
    );
    this.nodes = { command: cmd };
    this.registerOutputs({});
  }

  static readonly __pulumiType = "fleet:casdoor:Application";
}
