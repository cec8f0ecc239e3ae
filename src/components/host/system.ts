import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { childName } from "../../naming";
import { type CommandTransform, remoteTask } from "../../remote/command";
import { type Host } from "../../remote/host";
import { sh } from "../../remote/quote";
import { parseOrThrow } from "../../validation/errors";
import { absolutePath, fileMode, unixName } from "../../validation/primitives";

export const systemUserSchema = z.strictObject({
  /** User (and group) name. */
  name: unixName,
  /** Home directory (not created here; see Directories). */
  home: absolutePath,
  /** @default "/usr/sbin/nologin" */
  shell: absolutePath.default("/usr/sbin/nologin"),
});
export type SystemUserSpec = z.output<typeof systemUserSchema>;

export function systemUserScript(spec: SystemUserSpec): string {
  return [
    `if id -u ${sh(spec.name)} >/dev/null 2>&1; then echo ${sh(`fleet: user ${spec.name} exists`)}; exit 0; fi`,
    `useradd --system --user-group --home-dir ${sh(spec.home)} --no-create-home --shell ${sh(spec.shell)} ${sh(spec.name)}`,
    `echo ${sh(`fleet: created system user ${spec.name}`)}`,
  ].join("\n");
}

/**
 * A system user with its own group. Never deleted by Pulumi: files it owns outlive it.
 *
 * #### The daedalus service account
 * ```ts
 * new SystemUser("daedalus-user", { host: puck, name: "daedalus", home: "/srv/daedalus" });
 * ```
 */
export class SystemUser extends pulumi.ComponentResource {
  public readonly name: string;
  public readonly nodes: { readonly command: command.remote.Command };

  constructor(name: string, args: z.input<typeof systemUserSchema> & { host: Host; transform?: { command?: CommandTransform } }, opts?: pulumi.ComponentResourceOptions) {
    const { host, transform: hooks, ...rest } = args;
    const spec = parseOrThrow(`SystemUser "${name}"`, systemUserSchema, rest);
    super(SystemUser.__pulumiType, name, {}, opts);
    const cmd = remoteTask(
      childName(name, "useradd"),
      { host, run: { body: systemUserScript(spec), lock: "users" }, triggers: [spec.name, spec.home, spec.shell], transform: hooks?.command },
      { parent: this },
    );
    this.name = spec.name;
    this.nodes = { command: cmd };
    this.registerOutputs({ name: spec.name });
  }

  static readonly __pulumiType = "fleet:host:User";
}

export const directorySchema = z.strictObject({
  path: absolutePath,
  /** @default "root" */
  owner: unixName.default("root"),
  /** @default the owner */
  group: unixName.optional(),
  /** @default "0755" */
  mode: fileMode.default("0755"),
});

export const directoriesSchema = z.strictObject({
  directories: z.array(directorySchema).min(1).max(64),
});
export type DirectorySpec = z.output<typeof directorySchema>;

export function directoriesScript(dirs: readonly DirectorySpec[]): string {
  return [
    ...dirs.map((d) => `install -d -o ${sh(d.owner)} -g ${sh(d.group ?? d.owner)} -m ${sh(d.mode)} ${sh(d.path)}`),
    `echo ${sh(`fleet: ${dirs.length} director${dirs.length === 1 ? "y" : "ies"} in place`)}`,
  ].join("\n");
}

/**
 * Directories with owner and mode, created (or corrected) on create and whenever
 * the list changes. Never removed by Pulumi: they hold data.
 *
 * #### The /srv/daedalus layout
 * ```ts
 * new Directories("daedalus-dirs", { host: puck, directories: [{ path: "/srv/daedalus", owner: "daedalus" }] });
 * ```
 */
export class Directories extends pulumi.ComponentResource {
  public readonly nodes: { readonly command: command.remote.Command };

  constructor(name: string, args: z.input<typeof directoriesSchema> & { host: Host; transform?: { command?: CommandTransform } }, opts?: pulumi.ComponentResourceOptions) {
    const { host, transform: hooks, ...rest } = args;
    const spec = parseOrThrow(`Directories "${name}"`, directoriesSchema, rest);
    super(Directories.__pulumiType, name, {}, opts);
    const cmd = remoteTask(
      childName(name, "install"),
      { host, run: { body: directoriesScript(spec.directories) }, triggers: [directoriesScript(spec.directories)], transform: hooks?.command },
      { parent: this },
    );
    this.nodes = { command: cmd };
    this.registerOutputs({});
  }

  static readonly __pulumiType = "fleet:host:Directories";
}
