/**
 * The one shell-quoting helper. Every value that lands in a remote script goes
 * through `sh()`; scripts never build quotes by hand (Kamal's `Utils.escape_shell_value`).
 *
 * Quoting is delegated to `shescape` (a maintained, fuzzed escaping library) in its
 * POSIX single-quote mode, which is valid for sh, dash and bash alike.
 */
import { Shescape } from "shescape";

let quoter: Shescape | undefined;

function instance(): Shescape {
  // bash's quoting rules for single-quoted words are the POSIX ones, so the result
  // is also correct for /bin/sh (dash) on the hosts.
  quoter ??= new Shescape({ shell: "bash", flagProtection: false });
  return quoter;
}

/** Quote one value as a single shell word. NUL bytes are refused, not silently dropped. */
export function sh(value: string | number): string {
  const text = String(value);
  if (text.includes("\0")) throw new Error("shell value must not contain a NUL byte");
  if (text === "") return "''";
  const quoted = instance().quote(text);
  // shescape drops characters it considers unsafe (\r, U+0085, ...) without a word.
  // A value must reach the host exactly as given, or not at all.
  if (quoted !== `'${text.replace(/'/g, "'\\''")}'`) {
    const dropped = [...text].filter((c) => !quoted.includes(c)).map((c) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`);
    throw new Error(`shell value has characters that cannot be passed through quoting unchanged (${[...new Set(dropped)].join(", ") || "altered"})`);
  }
  return quoted;
}

/** Quote each value and join them with spaces: an argv as one command line. */
export function shArgs(values: readonly (string | number)[]): string {
  return values.map(sh).join(" ");
}
