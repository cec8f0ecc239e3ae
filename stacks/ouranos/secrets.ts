/**
 * Secrets of the ouranos stack: from Pulumi secret config when set (the seeds'
 * "from vault"), generated otherwise. Generated secrets are protected: an `up` never
 * rotates them (rotating SECRET_KEY or the Fernet key would make stored data unreadable).
 */
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { type ConfigSource } from "../../src/config/loader";

export interface SecretOptions {
  /** Pulumi config key that overrides the generated value. */
  readonly configKey: string;
  /** Resource name of the generator. */
  readonly name: string;
  readonly length?: number;
  /** Special characters allowed; none when omitted (URL- and dotenv-safe). */
  readonly special?: string;
}

export function configuredOrGenerated(source: ConfigSource, parent: pulumi.Resource, opts: SecretOptions): pulumi.Output<string> {
  if (source.get(opts.configKey) !== undefined) return source.secret(opts.configKey);
  const generated = new random.RandomPassword(
    opts.name,
    {
      length: opts.length ?? 32,
      special: opts.special !== undefined,
      ...(opts.special !== undefined ? { overrideSpecial: opts.special, minSpecial: 2 } : {}),
      minLower: 2,
      minUpper: 2,
      minNumeric: 2,
    },
    { parent, protect: true, retainOnDelete: true },
  );
  return pulumi.secret(generated.result);
}

/** A Fernet key: 32 random bytes, URL-safe base64 (44 characters). */
export function configuredOrFernet(source: ConfigSource, parent: pulumi.Resource, configKey: string, name: string): pulumi.Output<string> {
  if (source.get(configKey) !== undefined) return source.secret(configKey);
  const bytes = new random.RandomBytes(name, { length: 32 }, { parent, protect: true, retainOnDelete: true });
  return pulumi.secret(bytes.base64.apply(toFernet));
}

/** Standard base64 of 32 bytes → the URL-safe alphabet Fernet requires. */
export function toFernet(base64: string): string {
  return base64.replace(/\+/g, "-").replace(/\//g, "_");
}
