/**
 * Secrets of the menagerie stack. CF_SERVER_SECRET derives every user's SQLCipher key
 * (`HMAC(secret, user_id)`): it is generated once, in the seed's format, protected and
 * retained, and nothing that changes between deploys can replace it. An instance that
 * already has users imports its secret instead (`fleet:cfServerSecret`).
 */
import type * as pulumi from "@pulumi/pulumi";
import type * as random from "@pulumi/random";
import { type ConfigSource } from "../../src/config/loader";
import { configuredOrGenerated } from "../../src/config/secrets";
import { credentialUrl } from "../../src/urls";

/**
 * The seed's `openssl rand -base64 32 | tr -d '/=+' | cut -c1-32`: 32 characters of
 * the base64 alphabet without '/', '=' and '+', i.e. [A-Za-z0-9]{32}.
 */
export const CF_SERVER_SECRET_FORMAT = /^[A-Za-z0-9]{32}$/;

/** The generator's settings: exactly that alphabet and length, no minimum counts (uniform, like openssl's). */
export const CF_SERVER_SECRET_ARGS: random.RandomPasswordArgs = {
  length: 32,
  upper: true,
  lower: true,
  numeric: true,
  special: false,
};

export function cfServerSecret(source: ConfigSource, parent: pulumi.Resource): pulumi.Output<string> {
  // Rotating it makes every user database unreadable: protected and retained like every generated secret.
  return configuredOrGenerated(source, parent, { configKey: "cfServerSecret", name: "cf-server-secret", generator: CF_SERVER_SECRET_ARGS });
}

/** An app's own generated secret (its entry's `secrets`): 32 letters and digits, dotenv- and URL-safe. */
export const APP_SECRET_ARGS: random.RandomPasswordArgs = { length: 32, upper: true, lower: true, numeric: true, special: false };

/** The generator of an app's secret variable: `<slug>-secret-<name in lowercase, '_' as '-'>`, e.g. `falcon-secret-session-secret`. */
export function appSecretName(slug: string, variable: string): string {
  return `${slug}-secret-${variable.toLowerCase().replace(/_/g, "-")}`;
}

/** `postgresql://user:password@host:port/database`, percent-encoded. */
export function postgresUrl(db: { readonly user: string; readonly host: string; readonly port: number; readonly database: string }, password: string): string {
  return credentialUrl({ scheme: "postgresql", user: db.user, password, host: db.host, port: db.port, path: db.database });
}
