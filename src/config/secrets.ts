/**
 * Secrets a stack either takes from Pulumi secret config (the seeds' "from vault") or
 * generates once with `@pulumi/random`. Generated secrets are protected and retained: an
 * `up` never rotates them (a new SECRET_KEY, Fernet key or CF_SERVER_SECRET makes stored
 * data unreadable) and a `destroy` leaves them in state's history rather than deleting them.
 */
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { type ConfigSource } from "./loader";

export interface GeneratedSecretOptions {
  /** Pulumi config key (under `fleet:`) that overrides the generated value. */
  readonly configKey: string;
  /** Resource name of the generator. */
  readonly name: string;
  /** @default 32 */
  readonly length?: number;
  /**
   * Special characters allowed (at least two of them); none when omitted, so the value
   * is URL- and dotenv-safe.
   */
  readonly special?: string;
  /**
   * The generator's exact arguments, when a format is prescribed (a seed's
   * `openssl rand … | tr -d …`): replaces `length`, `special` and the default minimum
   * counts (two lower, two upper, two digits).
   */
  readonly generator?: random.RandomPasswordArgs;
}

/** The password generator's arguments for `opts`. */
export function generatorArgs(opts: Pick<GeneratedSecretOptions, "length" | "special" | "generator">): random.RandomPasswordArgs {
  if (opts.generator) return opts.generator;
  return {
    length: opts.length ?? 32,
    special: opts.special !== undefined,
    ...(opts.special !== undefined ? { overrideSpecial: opts.special, minSpecial: 2 } : {}),
    minLower: 2,
    minUpper: 2,
    minNumeric: 2,
  };
}

/** The config secret `opts.configKey` when set, a generated, protected password otherwise. */
export function configuredOrGenerated(source: ConfigSource, parent: pulumi.Resource, opts: GeneratedSecretOptions): pulumi.Output<string> {
  if (source.get(opts.configKey) !== undefined) return source.secret(opts.configKey);
  return generatedSecret(opts.name, parent, opts);
}

/** A password generated once by resource `name`, protected and retained (never rotated by an `up`), as a secret. */
export function generatedSecret(name: string, parent: pulumi.Resource, opts: Pick<GeneratedSecretOptions, "length" | "special" | "generator"> = {}): pulumi.Output<string> {
  const generated = new random.RandomPassword(name, generatorArgs(opts), { parent, protect: true, retainOnDelete: true });
  return pulumi.secret(generated.result);
}

/** A Fernet key from config, or 32 random bytes, URL-safe base64 (44 characters). */
export function configuredOrFernet(source: ConfigSource, parent: pulumi.Resource, opts: Pick<GeneratedSecretOptions, "configKey" | "name">): pulumi.Output<string> {
  if (source.get(opts.configKey) !== undefined) return source.secret(opts.configKey);
  const bytes = new random.RandomBytes(opts.name, { length: 32 }, { parent, protect: true, retainOnDelete: true });
  return pulumi.secret(bytes.base64.apply(toFernet));
}

/** Standard base64 of 32 bytes → the URL-safe alphabet Fernet requires. */
export function toFernet(base64: string): string {
  return base64.replace(/\+/g, "-").replace(/\//g, "_");
}
