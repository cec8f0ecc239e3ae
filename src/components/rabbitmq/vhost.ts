import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { sha256 } from "../../hash";
import { childName } from "../../naming";
import { type CommandTransform, remoteTask } from "../../remote/command";
import { type Host } from "../../remote/host";
import { sh } from "../../remote/quote";
import { parseOrThrow } from "../../validation/errors";
import { CONTROL, slug } from "../../validation/primitives";

const permission = z
  .string()
  .max(256)
  .refine((v) => !/[\s'"`$\\;&|<>]/.test(v) && !CONTROL.test(v), { error: "must be a regex without whitespace, control characters, quotes or shell metacharacters" });

export const rabbitmqVhostSchema = z.strictObject({
  /** Virtual host name. */
  vhost: slug,
  /** User with permissions on the vhost. */
  user: slug,
  /** configure / write / read permission regexes. @default ".*" each */
  permissions: z
    .strictObject({ configure: permission.default(".*"), write: permission.default(".*"), read: permission.default(".*") })
    .prefault({}),
  /** Path to rabbitmqctl, or a wrapper such as `docker exec rabbitmq rabbitmqctl`. @default "rabbitmqctl" */
  rabbitmqctl: z.enum(["rabbitmqctl", "docker exec rabbitmq rabbitmqctl"]).default("rabbitmqctl"),
});
export type RabbitMQVhostSpec = z.output<typeof rabbitmqVhostSchema>;

export interface RabbitMQVhostArgs extends z.input<typeof rabbitmqVhostSchema> {
  host: Host;
  /** The user's password (secret); reaches rabbitmqctl on stdin, never argv. */
  password: pulumi.Input<string>;
  transform?: { command?: CommandTransform };
}

export function rabbitmqVhostScript(spec: RabbitMQVhostSpec): string {
  const ctl = spec.rabbitmqctl === "rabbitmqctl" ? "rabbitmqctl" : "docker exec -i rabbitmq rabbitmqctl";
  const p = spec.permissions;
  return [
    `if ! ${ctl} -q list_vhosts name | grep -qxF ${sh(spec.vhost)}; then ${ctl} add_vhost ${sh(spec.vhost)}; fi`,
    // rabbitmqctl reads the password from stdin when it is not on the command line.
    `if ${ctl} -q list_users name | awk '{print $1}' | grep -qxF ${sh(spec.user)}; then`,
    `  printf '%s\\n' "$RABBITMQ_PASSWORD" | ${ctl} change_password ${sh(spec.user)}`,
    `else`,
    `  printf '%s\\n' "$RABBITMQ_PASSWORD" | ${ctl} add_user ${sh(spec.user)}`,
    `fi`,
    `${ctl} set_permissions -p ${sh(spec.vhost)} ${sh(spec.user)} ${sh(p.configure)} ${sh(p.write)} ${sh(p.read)}`,
    `echo ${sh(`fleet: rabbitmq vhost ${spec.vhost} and user ${spec.user} ready`)}`,
  ].join("\n");
}

/**
 * A RabbitMQ virtual host and a user with permissions on it, applied with
 * rabbitmqctl over SSH; re-applied when the password or permissions change.
 *
 * #### Mnemosyne's broker account on Oberon
 * ```ts
 * new RabbitMQVhost("mnemosyne-amqp", { host: oberon, vhost: "mnemosyne", user: "mnemosyne", password });
 * ```
 */
export class RabbitMQVhost extends pulumi.ComponentResource {
  public readonly nodes: { readonly command: command.remote.Command };

  constructor(name: string, args: RabbitMQVhostArgs, opts?: pulumi.ComponentResourceOptions) {
    const { host, password, transform: hooks, ...rest } = args;
    const spec = parseOrThrow(`RabbitMQVhost "${name}"`, rabbitmqVhostSchema, rest);
    super(RabbitMQVhost.__pulumiType, name, {}, opts);
    const cmd = remoteTask(
      childName(name, "apply"),
      {
        host,
        run: { body: rabbitmqVhostScript(spec), secretNames: ["RABBITMQ_PASSWORD"], lock: "rabbitmq" },
        secrets: [password],
        // Re-apply when the password changes, without putting it anywhere but a secret.
        triggers: [spec.vhost, spec.user, spec.permissions, pulumi.secret(pulumi.output(password).apply(sha256))],
        transform: hooks?.command,
      },
      { parent: this },
    );
    this.nodes = { command: cmd };
    this.registerOutputs({});
  }

  static readonly __pulumiType = "fleet:rabbitmq:Vhost";
}

