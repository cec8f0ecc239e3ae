import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { childName } from "../../naming";
import { remoteTask } from "../../remote/command";
import { sh, shArgs } from "../../remote/quote";
import { ConfigError, parseOrThrow } from "../../validation/errors";
import { type RemoteTaskArgs, type RemoteTaskSpec, remoteTaskSchema } from "./args";

/** The shell body of a task spec: cwd, user switch, then the script or argv. */
export function taskBody(spec: Pick<RemoteTaskSpec, "script" | "argv" | "cwd" | "user">): string {
  const cmd = spec.argv ? shArgs(spec.argv) : spec.script!;
  const inUser = spec.user ? `runuser -u ${sh(spec.user)} -- /bin/sh -c ${sh(cmd)}` : cmd;
  return spec.cwd ? `cd ${sh(spec.cwd)}\n${inUser}` : inUser;
}

/**
 * A command run on a host on create and whenever its triggers change; optionally
 * run once only, with its stdout kept as a secret output.
 *
 * #### Migrations whenever the code changes
 * ```ts
 * new RemoteTask("migrate", { host: puck, argv: ["/srv/app/venv/bin/alembic", "upgrade", "head"], cwd: "/srv/app/backend", user: "app", triggers: [revision] });
 * ```
 *
 * #### A one-time key, captured as a secret
 * ```ts
 * const seed = new RemoteTask("signing-key", { host: puck, argv: ["docker", "compose", "run", "--rm", "app", "python", "manage.py", "seed_signing_key"], once: true, captureStdout: true });
 * export const signingKeyOutput = seed.stdout; // secret
 * ```
 */
export class RemoteTask extends pulumi.ComponentResource {
  /** The command's stdout (secret when `captureStdout`). */
  public readonly stdout: pulumi.Output<string>;
  public readonly nodes: { readonly command: command.remote.Command };

  constructor(name: string, args: RemoteTaskArgs, opts?: pulumi.ComponentResourceOptions) {
    const { host, secrets, triggers, revision, transform: hooks, ...rest } = args;
    const spec = parseOrThrow(`RemoteTask "${name}"`, remoteTaskSchema, rest);
    const given = Object.keys(secrets ?? {}).sort();
    const wanted = [...spec.secretNames].sort();
    if (given.join(",") !== wanted.join(",")) {
      throw new ConfigError(`RemoteTask "${name}"`, [
        { path: "secrets", message: `must provide exactly the secretNames (${wanted.join(", ") || "none"}); got ${given.join(", ") || "none"}` },
      ]);
    }
    super(RemoteTask.__pulumiType, name, {}, opts);
    const parent = this;

    const cmd = remoteTask(
      childName(name, "command"),
      {
        host,
        run: { body: taskBody(spec), secretNames: spec.secretNames, ...(spec.lock ? { lock: spec.lock } : {}) },
        secrets: spec.secretNames.map((n) => secrets![n]!),
        ...(triggers ? { triggers } : {}),
        ...(revision?.length ? { revision } : {}),
        ...(spec.onDelete ? { onDelete: { body: spec.onDelete } } : {}),
        once: spec.once,
        secretOutput: spec.captureStdout,
        transform: hooks?.command,
      },
      { parent },
    );

    this.stdout = spec.captureStdout ? pulumi.secret(cmd.stdout) : cmd.stdout;
    this.nodes = { command: cmd };
    this.registerOutputs({ stdout: this.stdout });
  }

  static readonly __pulumiType = "fleet:remote:Task";
}
