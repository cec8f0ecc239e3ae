/**
 * Secrets of the menagerie stack. CF_SERVER_SECRET derives every user's SQLCipher key
 * (`HMAC(secret, user_id)`): it is generated once, in the seed's format, protected and
 * retained, and nothing that changes between deploys can replace it. An instance that
 * already has users imports its secret instead (`fleet:cfServerSecret`).
 */
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { type ConfigSource } from "../../src/config/loader";

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
  if (source.get("cfServerSecret") !== undefined) return source.secret("cfServerSecret");
  const generated = new random.RandomPassword(
    "cf-server-secret",
    CF_SERVER_SECRET_ARGS,
    // Rotating it makes every user database unreadable: never replaced, never deleted.
    { parent, protect: true, retainOnDelete: true },
  );
  return pulumi.secret(generated.result);
}

/** `postgresql://user:<percent-encoded password>@host:port/database`. */
export function postgresUrl(db: { readonly user: string; readonly host: string; readonly port: number; readonly database: string }, password: string): string {
  return `postgresql://${db.user}:${encodeURIComponent(password)}@${db.host}:${db.port}/${db.database}`;
}
