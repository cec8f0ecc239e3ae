/**
 * Arguments of RemoteTask. Plain data + zod.
 */
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { type CommandTransform } from "../../remote/command";
import { type Host } from "../../remote/host";
import { CONTROL, envName, slug } from "../../validation/primitives";

const script = z
  .string()
  .min(1, { error: "must not be empty" })
  .max(65536, { error: "must be at most 64 KiB" })
  .refine((v) => !v.includes("\0"), { error: "must not contain NUL bytes" });

const argvItem = z
  .string()
  .max(4096, { error: "must be at most 4096 characters" })
  .refine((v) => !CONTROL.test(v), { error: "must be one line without control characters (newlines, line separators, tabs, NUL, C1)" });

export const remoteTaskSchema = z
  .strictObject({
    /** Shell script run on the host (POSIX sh). Build values into it with `sh()`. Exactly one of `script`/`argv`. */
    script: script.optional(),
    /** A command as an argv, quoted for you. Exactly one of `script`/`argv`. @example ["alembic", "upgrade", "head"] */
    argv: z.array(argvItem).min(1, { error: "must name a command" }).max(256).optional(),
    /** Working directory for the command. */
    cwd: z
      .string()
      .regex(/^\/[A-Za-z0-9._@+/-]*$/, { error: "must be an absolute path without spaces or shell metacharacters" })
      .optional(),
    /** Run as this user (`runuser -u USER --`). */
    user: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, { error: "must be a Unix user name" }).optional(),
    /** Secrets the script reads as shell variables of these names; values come from `secrets`. */
    secretNames: z.array(envName).max(32).default([]),
    /**
     * Run exactly once: never again on a change of script or triggers, so one-time
     * output (a generated key) is neither lost nor regenerated. @default false
     */
    once: z.boolean().default(false),
    /** Keep stdout as a secret output (and never log it). @default false */
    captureStdout: z.boolean().default(false),
    /** Serialise with file changes of this service (same flock). */
    lock: slug.optional(),
    /** Script run when the task is deleted. */
    onDelete: script.optional(),
  })
  .superRefine((v, ctx) => {
    if ((v.script === undefined) === (v.argv === undefined)) {
      ctx.addIssue({ code: "custom", path: ["script"], message: "give exactly one of script or argv" });
    }
  });

export type RemoteTaskSpecInput = z.input<typeof remoteTaskSchema>;
export type RemoteTaskSpec = z.output<typeof remoteTaskSchema>;

export interface RemoteTaskArgs extends RemoteTaskSpecInput {
  host: Host;
  /** Secret values by the names in `secretNames`; they reach the script on stdin only. */
  secrets?: Record<string, pulumi.Input<string>>;
  /**
   * Values whose change re-runs the task by replacing its command: identities (a host, a
   * path), never timestamps. The command plugin replaces a command whose `triggers` change.
   */
  triggers?: pulumi.Input<unknown>[];
  /**
   * Values whose change re-runs the task as an update of its command (their hash is a
   * comment line of the script): what is deployed (a commit, a content hash). An unchanged
   * value runs nothing. @default none @example [revision]
   */
  revision?: pulumi.Input<unknown>[];
  transform?: { command?: CommandTransform };
}
