/**
 * A host at runtime: its validated settings plus the SSH connection the command
 * provider uses. The private key is always a secret.
 */
import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { hostNameKey, hostSchema, type HostSpecInput, type NamedHostSpec } from "../config/hosts";
import { parseOrThrow } from "../validation/errors";
import { type ScriptContext } from "./scripts";

export type ConnectionArgs = command.types.input.remote.ConnectionArgs;

export interface Host {
  /** Logical name, e.g. `puck`; used in resource names and error messages. */
  readonly name: string;
  readonly spec: NamedHostSpec;
  /** SSH connection for `remote.Command`; `privateKey` is secret. */
  readonly connection: pulumi.Output<ConnectionArgs>;
  /** Lock directory and sudo use for scripts run on this host. */
  readonly scripts: ScriptContext;
}

/**
 * Validate a host's settings and build its connection.
 *
 * @example
 * const puck = defineHost("puck", { address: "puck.incus", hostKey: "ssh-ed25519 AAAA..." }, cfg.requireSecret("sshPrivateKey"));
 */
export function defineHost(name: string, input: HostSpecInput, privateKey: pulumi.Input<string>): Host {
  parseOrThrow(`host "${name}"`, hostNameKey, name);
  const parsed = parseOrThrow(`host "${name}"`, hostSchema, input);
  return hostFromSpec({ ...parsed, name }, privateKey);
}

/** Build a Host from settings that were already validated (the stack config loader does that). */
export function hostFromSpec(spec: NamedHostSpec, privateKey: pulumi.Input<string>): Host {
  const key = pulumi.secret(privateKey);
  const connection: ConnectionArgs = {
    host: spec.address,
    port: spec.port,
    user: spec.user,
    privateKey: key,
    // Fail fast rather than retrying a wrong address ten times.
    dialErrorLimit: 3,
    perDialTimeout: 15,
    ...(spec.hostKey ? { hostKey: spec.hostKey } : {}),
    ...(spec.jump
      ? {
          proxy: {
            host: spec.jump.address,
            port: spec.jump.port,
            user: spec.jump.user,
            privateKey: key,
            ...(spec.jump.hostKey ? { hostKey: spec.jump.hostKey } : {}),
          },
        }
      : {}),
  };
  return {
    name: spec.name,
    spec,
    connection: pulumi.output(connection),
    scripts: { lockDir: spec.lockDir, sudo: spec.user !== "root", host: spec.name },
  };
}
