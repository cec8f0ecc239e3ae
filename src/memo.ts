/**
 * A bounded memo for pure functions of their (string) inputs: the same key gives back the
 * value computed the first time, without computing it again. Only values are kept: a call
 * that throws is not remembered, so a refused input is refused again, every time, with its
 * own error. The oldest entry is dropped once `size` are kept.
 *
 * For work a program repeats on the same inputs, such as parsing the same compose file
 * for the check before any resource, for the deployed file and for its published ports.
 * A value handed out more than once must not be changed by its callers: freeze it
 * ({@link deepFreeze}) or hand out copies.
 */
export class Memo<V> {
  private readonly values = new Map<string, V>();

  constructor(private readonly size: number) {}

  /** The value kept for `key`, or `compute()`'s, kept when it returns. */
  get(key: string, compute: () => V): V {
    if (this.values.has(key)) return this.values.get(key)!;
    const value = compute();
    if (this.values.size >= this.size) this.values.delete(this.values.keys().next().value!);
    this.values.set(key, value);
    return value;
  }
}

/** `value` and everything reachable from it frozen (a change throws in strict code); returns `value`. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}
