/**
 * The stacks `npm run render` knows: how to build each one's program, and which
 * secret config keys it needs besides those its hosts and servers name. Loaded
 * lazily, so naming an unknown stack never loads any composition.
 */
import { type LsRemote } from "../src/git/refs";
import { RenderUsageError } from "./usage-error";
import { DAARION_OPTIONAL_SECRETS, DAARION_REQUIRED_SECRETS } from "./daarion/config";
import { MENAGERIE_OPTIONAL_SECRETS, MENAGERIE_REQUIRED_SECRETS } from "./menagerie/config";
import { OURANOS_OPTIONAL_SECRETS, OURANOS_REQUIRED_SECRETS } from "./ouranos/config";

export interface RenderableStack {
  /**
   * Build the stack's resources; called inside a (mocked) Pulumi program. `lsRemote`
   * replaces `git ls-remote` for the refs resolved at preview (offline renders pass theirs).
   */
  readonly program: (opts?: { readonly lsRemote?: LsRemote }) => Promise<unknown>;
  /** Secret keys (without namespace) the stack requires beyond host keys and server admins. */
  readonly requiredSecrets: readonly string[];
  /** Secret keys (without namespace) the stack reads when set and generates otherwise. */
  readonly optionalSecrets: readonly string[];
}

export const STACKS: Readonly<Record<string, RenderableStack>> = {
  daarion: {
    program: async () => {
      const { daarionProgram } = await import("./daarion");
      return daarionProgram();
    },
    requiredSecrets: DAARION_REQUIRED_SECRETS,
    optionalSecrets: DAARION_OPTIONAL_SECRETS,
  },
  ouranos: {
    program: async (opts) => {
      const { ouranosProgram } = await import("./ouranos");
      return ouranosProgram(opts);
    },
    requiredSecrets: OURANOS_REQUIRED_SECRETS,
    optionalSecrets: OURANOS_OPTIONAL_SECRETS,
  },
  menagerie: {
    program: async () => {
      const { menagerieProgram } = await import("./menagerie");
      return menagerieProgram();
    },
    requiredSecrets: MENAGERIE_REQUIRED_SECRETS,
    optionalSecrets: MENAGERIE_OPTIONAL_SECRETS,
  },
};

export function knownStacks(): string[] {
  return Object.keys(STACKS).sort();
}

/** The stack's definition; an unknown name is a usage error listing the known ones. */
export function stackDefinition(stack: string): RenderableStack {
  const def = Object.prototype.hasOwnProperty.call(STACKS, stack) ? STACKS[stack] : undefined;
  if (!def) throw new RenderUsageError(`unknown stack "${stack}"; known stacks: ${knownStacks().join(", ")}`);
  return def;
}
