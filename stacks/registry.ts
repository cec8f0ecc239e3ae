/**
 * The stacks `npm run render` knows: how to build each one's program, and which
 * secret config keys it needs besides those its hosts and servers name. Each program
 * is loaded lazily, so naming an unknown stack never loads any composition; the names
 * are also in stacks/names.ts (the render CLI's checks, which load nothing else), and
 * `satisfies` below keeps the two lists the same.
 */
import { type SourceAccess } from "../src/git/sources";
import { type StackName, unknownStack } from "./names";
import { DAARION_OPTIONAL_SECRETS, DAARION_REQUIRED_SECRETS, DAARION_SECRET_VARIABLES } from "./daarion/config";
import { MENAGERIE_OPTIONAL_SECRETS, MENAGERIE_REQUIRED_SECRETS, MENAGERIE_SECRET_VARIABLES } from "./menagerie/config";
import { OURANOS_OPTIONAL_SECRETS, OURANOS_REQUIRED_SECRETS, OURANOS_SECRET_VARIABLES } from "./ouranos/config";

/**
 * A secret variable one of the stack's apps reads (from its `.env` or environment file),
 * and where its value comes from: a secret config key (required, or generated and kept
 * when absent), or a value the stack generates with no key (a service account's secret).
 * Every secret an app reads is one of these, so no service falls back to a default in its
 * own code; the stack's JSON Schema lists them (stacks/schema.ts), and
 * test/program/secret-variables.test.ts checks the list against what a render writes.
 */
export interface SecretVariable {
  /** The app (or service) that reads it, e.g. `mnemosyne`. */
  readonly app: string;
  /** The variable, e.g. `SECRET_KEY`. */
  readonly variable: string;
  /** The secret config key (without namespace) it comes from, when there is one. */
  readonly key?: string;
  /** How the value is made when no key holds it, e.g. "generated: the MinIO user of bucket mnemosyne-content". */
  readonly generated?: string;
}

export interface RenderableStack {
  /**
   * Build the stack's resources; called inside a (mocked) Pulumi program. `lsRemote`
   * replaces `git ls-remote` for the refs resolved at preview and `readFiles` the read of
   * the apps' files at the resolved commits (offline renders pass theirs: `renderGit`).
   */
  readonly program: (opts?: SourceAccess) => Promise<unknown>;
  /** Secret keys (without namespace) the stack requires beyond host keys and server admins. */
  readonly requiredSecrets: readonly string[];
  /** Secret keys (without namespace) the stack reads when set and generates otherwise. */
  readonly optionalSecrets: readonly string[];
  /** Every secret variable the stack's apps read, and its source. */
  readonly secretVariables: readonly SecretVariable[];
}

export const STACKS: Readonly<Record<string, RenderableStack>> = {
  daarion: {
    program: async (opts) => {
      const { daarionProgram } = await import("./daarion");
      return daarionProgram(opts);
    },
    requiredSecrets: DAARION_REQUIRED_SECRETS,
    optionalSecrets: DAARION_OPTIONAL_SECRETS,
    secretVariables: DAARION_SECRET_VARIABLES,
  },
  ouranos: {
    program: async (opts) => {
      const { ouranosProgram } = await import("./ouranos");
      return ouranosProgram(opts);
    },
    requiredSecrets: OURANOS_REQUIRED_SECRETS,
    optionalSecrets: OURANOS_OPTIONAL_SECRETS,
    secretVariables: OURANOS_SECRET_VARIABLES,
  },
  menagerie: {
    program: async (opts) => {
      const { menagerieProgram } = await import("./menagerie");
      return menagerieProgram(opts);
    },
    requiredSecrets: MENAGERIE_REQUIRED_SECRETS,
    optionalSecrets: MENAGERIE_OPTIONAL_SECRETS,
    secretVariables: MENAGERIE_SECRET_VARIABLES,
  },
} satisfies Record<StackName, RenderableStack>;

export function knownStacks(): string[] {
  return Object.keys(STACKS).sort();
}

/** The stack's definition; an unknown name is a usage error listing the known ones. */
export function stackDefinition(stack: string): RenderableStack {
  const def = Object.prototype.hasOwnProperty.call(STACKS, stack) ? STACKS[stack] : undefined;
  if (!def) throw unknownStack(stack, knownStacks());
  return def;
}
