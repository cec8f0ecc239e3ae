/**
 * The adversarial pass (issue 9): the classes of hostile input an attacker or a careless
 * operator types, and the walk that applies each to every field of a stack config.
 * Shared by test/validation/adversarial.test.ts.
 */

/** One class of hostile input: what it is, and the values that stand for it. */
export interface HostileClass {
  readonly name: string;
  /** Replacement for a string field. */
  readonly string?: string;
  /** Replacement for a number field. */
  readonly number?: unknown;
}

export const CLASSES: readonly HostileClass[] = [
  { name: "shell payload", string: "$(touch /tmp/pwn)`id`;reboot" },
  { name: "config-file injection", string: 'x"\n}\nevil { return 200 }\n#' },
  { name: "'..' path", string: "/opt/../etc/shadow" },
  { name: "prototype name constructor", string: "constructor" },
  { name: "prototype name __proto__", string: "__proto__" },
  { name: "C0 control (BEL)", string: "a\u0007b" },
  { name: "C1 control (CSI)", string: "a\u009bb" },
  { name: "line separator U+2028", string: "a\u2028b" },
  { name: "leading dash", string: "-oProxyCommand=touch_pwn" },
  { name: "empty string", string: "" },
  { name: "very long value (100 000 chars)", string: "a".repeat(100_000) },
  { name: "port 0", number: 0 },
  { name: "port 65536", number: 65536 },
  { name: "negative number", number: -1 },
  { name: "fraction", number: 1.5 },
  { name: "number as a string", number: "80" },
];

export interface Leaf {
  /** Slash path inside the config value, e.g. `daedalus/repo/url`. */
  readonly path: readonly (string | number)[];
  readonly value: string | number | boolean;
}

/** Every string, number and boolean leaf of a (parsed, defaults filled in) config value. */
export function leavesOf(value: unknown, at: readonly (string | number)[] = []): Leaf[] {
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return [{ path: at, value }];
  if (Array.isArray(value)) return value.flatMap((v, i) => leavesOf(v, [...at, i]));
  if (value !== null && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => leavesOf(v, [...at, k]));
  return [];
}

/** A deep copy of `value` with the leaf at `path` replaced. */
export function withLeaf(value: unknown, path: readonly (string | number)[], replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const [head, ...rest] = path;
  if (Array.isArray(value)) return value.map((v, i) => (i === head ? withLeaf(v, rest, replacement) : v));
  const obj = value as Record<string, unknown>;
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, k === head ? withLeaf(v, rest, replacement) : v]));
}

/** The hostile value of `cls` for a leaf, or undefined when the class does not apply to its type. */
export function hostileFor(leaf: Leaf, cls: HostileClass): unknown {
  if (typeof leaf.value === "string") return cls.string;
  if (typeof leaf.value === "number") return cls.number;
  return undefined;
}
