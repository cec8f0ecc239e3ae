/**
 * One error type for operators (SST's VisibleError, pulumi-eks' InputPropertiesError):
 * every problem found in one pass, each with its path and rule, thrown once.
 */
import { type z } from "zod";

export interface Problem {
  /** Slash-separated path from the root of the validated value, e.g. `hosts/puck/port`. */
  path: string;
  /** The rule that was broken, phrased as what the value must be. */
  message: string;
}

/**
 * Bad input. `pulumi` prints the message without a stack trace when the program
 * throws it before registering resources, which is the point: the text is the fix.
 */
export class ConfigError extends Error {
  /**
   * Pulumi's runner prints a RunError as its message alone, without stack or object
   * dump (`RunError.isInstance` checks this brand), which is what an operator needs.
   */
  readonly __pulumiRunError = true;
  readonly problems: readonly Problem[];
  readonly subject: string;

  constructor(subject: string, problems: readonly Problem[]) {
    super(formatProblems(subject, problems));
    this.name = "ConfigError";
    this.subject = subject;
    this.problems = problems;
    // Operators need the message, not our stack.
    this.stack = `${this.name}: ${this.message}`;
  }
}

export function formatProblems(subject: string, problems: readonly Problem[]): string {
  if (problems.length === 1) {
    const p = problems[0]!;
    return `${subject}: ${p.path || "(root)"}: ${p.message}`;
  }
  const lines = problems.map((p) => `  - ${p.path || "(root)"}: ${p.message}`);
  return `${subject} has ${problems.length} problems:\n${lines.join("\n")}`;
}

export function pathOf(path: readonly PropertyKey[]): string {
  return path.map((p) => String(p)).join("/");
}

/** Flatten zod issues (including union branches) into problems, prefixed by `base`. */
export function problemsFromZod(error: z.ZodError, base: readonly PropertyKey[] = []): Problem[] {
  const out: Problem[] = [];
  for (const issue of error.issues) {
    const path = pathOf([...base, ...issue.path]);
    let message = issue.message;
    if (issue.code === "unrecognized_keys") {
      message = `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}; remove or rename ${issue.keys.length > 1 ? "them" : "it"}`;
    } else if (issue.code === "invalid_type" && /received undefined/.test(issue.message)) {
      message = "is required";
    } else if (issue.code === "invalid_key" || issue.code === "invalid_element") {
      // zod nests the real rule one level down ("Invalid key in record").
      message = issue.issues.map((i) => i.message).join("; ") || message;
    }
    out.push({ path, message });
  }
  return out;
}

/**
 * Parse `value` with `schema`; on failure throw one ConfigError listing every issue.
 * `subject` names what is being validated, e.g. `PostgresDatabase "daedalus"`.
 */
export function parseOrThrow<S extends z.ZodType>(subject: string, schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ConfigError(subject, problemsFromZod(result.error));
}
