/**
 * Settings of the `menagerie` stack (key `fleet:menagerie`), with the Peregrine cloud
 * seed's values as defaults. Secrets are not here: they are Pulumi secret config keys,
 * or generated (CF_SERVER_SECRET).
 */
import { z } from "zod";
import type { SecretVariable } from "../registry";
import { caddyServerSchema, caddyText } from "../../src/components/caddy/args";
import { composeFileName } from "../../src/components/compose/args";
import { adoptSchema, appPort, appSlug, dataPath, envSettings, menagerieAppEntrySchema, menagerieCloudSchema } from "./apps";
import {
  absolutePath,
  containerName,
  domainName,
  gitRef,
  hostname,
  pgIdentifier,
  port,
  slug,
} from "../../src/validation/primitives";

const hostRef = z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, { error: "must name a host under fleet:hosts" });

/** The seed's answer for paths no app handles yet. */
export const FALLBACK_TEXT = "This app is not yet available in the managed cloud — check back soon.";

export const menagerieSchema = z.strictObject({
  /** Which fleet:hosts entry plays each role. The apps' Docker host runs the caddy-proxy container too (host.docker.internal). */
  roles: z
    .strictObject({
      /** The bastion running the caddy-proxy container. @default "bastion" */
      caddy: hostRef.default("bastion"),
      /** The Docker host running the apps. @default "bastion" */
      app: hostRef.default("bastion"),
    })
    .prefault({}),
  /** Caddy in the caddy-proxy container on the bastion. */
  caddy: z
    .strictObject({
      /**
       * Own the main Caddyfile (global options, `imports`, then `import sites/*.caddy`).
       * `false`: the Caddyfile is kept by hand and must `import /etc/caddy/sites/*.caddy`.
       * @default true
       */
      manageServer: z.boolean().default(true),
      /** The Caddyfile's directory on the host, bind-mounted (the whole directory) into the container. @default "/devl/caddy-proxy" */
      configDir: absolutePath.default("/devl/caddy-proxy"),
      /** The container Caddy runs in; changes are applied with `docker restart`. @default "caddy-proxy" */
      container: containerName.default("caddy-proxy"),
      /** Where the container sees configDir. @default "/etc/caddy" */
      containerConfigDir: absolutePath.default("/etc/caddy"),
      /** ACME account e-mail. @default none */
      email: caddyServerSchema.shape.email,
      /**
       * Hand-written site blocks (the website's, …) moved out of the Caddyfile, as the
       * container sees them, imported before the managed sites.
       * @default []
       * @example ["/etc/caddy/legacy/*.caddy"]
       */
      imports: caddyServerSchema.shape.imports,
    })
    .prefault({}),
  /** The shared cloud site. */
  site: z
    .strictObject({
      /** @default "menagerie.circuitforge.tech" */
      address: domainName.default("menagerie.circuitforge.tech"),
      /** Answer (503) for paths no app handles. */
      fallback: caddyText.default(FALLBACK_TEXT),
      /** JSON access log, as the container sees it. @default "/data/logs/menagerie.circuitforge.tech.log" */
      log: absolutePath.default("/data/logs/menagerie.circuitforge.tech.log"),
    })
    .prefault({}),
  /** Host directory of the per-user data trees (CLOUD_DATA_ROOT). @default "/devl/menagerie-data" */
  dataRoot: dataPath.default("/devl/menagerie-data"),
  /** Owner and mode of the data root. @default { owner: "root", group: "root", mode: "0700" } */
  data: menagerieCloudSchema.shape.data,
  /** How Caddy reaches the apps' ports. @default "host.docker.internal" */
  upstreamHost: hostname.default("host.docker.internal"),
  /** Where the checks through Caddy connect on the bastion. @default { address: "127.0.0.1", port: 443 } */
  caddyCheck: menagerieCloudSchema.shape.caddyCheck,
  /** The platform database of the website stack (PLATFORM_DB_URL); the password is the secret platformDbPassword. */
  platformDb: z
    .strictObject({
      user: pgIdentifier.default("cf_platform"),
      host: hostname.default("host.docker.internal"),
      port: port.default(5433),
      database: pgIdentifier.default("circuitforge_platform"),
    })
    .prefault({}),
  /**
   * The apps of the cloud, each at `https://<site.address>/<slug>`. Onboarding an app
   * is one more entry. Peregrine's port is the seed's 8505.
   */
  apps: z.array(menagerieAppEntrySchema).min(1, { error: "must list at least one app (peregrine)" }).max(32),
  /** The public demo at demo.circuitforge.tech/peregrine. */
  demo: z
    .strictObject({
      /** Deploy it. @default true */
      enabled: z.boolean().default(true),
      /** The app entry whose repository holds the demo compose file. @default "peregrine" */
      app: appSlug.default("peregrine"),
      /** A ref other than the app's. @default the app's ref */
      ref: gitRef.optional(),
      /** The demo compose file in the repository's root. @default "compose.demo.yml" */
      composeFile: composeFileName.default("compose.demo.yml"),
      /** Compose project. @default "peregrine-demo" */
      project: slug.default("peregrine-demo"),
      /** Project directory (`.env`, the compose file; the checkout, with demo/config and demo/data, in `src/<app>`). @default "/opt/peregrine-demo" */
      directory: dataPath.default("/opt/peregrine-demo"),
      /** Host port of the demo. The seed does not name it. @default 8504 */
      port: appPort.default(8504),
      /** The demo site. */
      address: domainName.default("demo.circuitforge.tech"),
      /** JSON access log of the demo site, as the container sees it. @default "/data/logs/demo.circuitforge.tech.log" */
      log: absolutePath.default("/data/logs/demo.circuitforge.tech.log"),
      /** Other settings for the demo's `.env`. @default {} */
      env: envSettings,
      /** Adopting what already runs the demo on the first `up`. @default { enabled: true, containers: [] } */
      adopt: adoptSchema,
    })
    .prefault({}),
});

export type MenagerieConfig = z.output<typeof menagerieSchema>;

/** Secret config keys the stack cannot generate (owned by other systems). */
export const MENAGERIE_REQUIRED_SECRETS = ["directusJwtSecret", "platformDbPassword"] as const;

/**
 * Secret config keys the stack reads when present, generating a value otherwise.
 * `cfServerSecret` imports the secret of an instance that already has users: a new
 * one would make every existing user database unreadable.
 */
export const MENAGERIE_OPTIONAL_SECRETS = ["cfServerSecret"] as const;

/**
 * Every secret variable the cloud's apps read from their `.env`, and its source (listed in
 * the stack's JSON Schema). An app's own secret variables are its entry's `secrets`.
 */
export const MENAGERIE_SECRET_VARIABLES: readonly SecretVariable[] = [
  { app: "every cloud app", variable: "CF_SERVER_SECRET", key: "cfServerSecret" },
  { app: "every cloud app", variable: "DIRECTUS_JWT_SECRET", key: "directusJwtSecret" },
  { app: "every cloud app", variable: "PLATFORM_DB_URL", key: "platformDbPassword" },
];
