/**
 * "Did you mean …?" for a misspelt key: the known key nearest by edit distance
 * (optimal string alignment: insertions, deletions, substitutions, adjacent swaps).
 * Plain data, no Pulumi import.
 */

/** Edit distance between `a` and `b`, counting an adjacent transposition as one edit. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The known key closest to `key` (case-insensitive), when it is close enough to be a
 * typo: at most a third of its length in edits (at least 2). Ties go to the first in
 * sorted order, so the suggestion is deterministic.
 */
export function nearest(key: string, known: Iterable<string>): string | undefined {
  const limit = Math.max(2, Math.floor(key.length / 3));
  let best: { key: string; distance: number } | undefined;
  for (const k of [...new Set(known)].sort()) {
    const distance = editDistance(key.toLowerCase(), k.toLowerCase());
    if (distance <= limit && (best === undefined || distance < best.distance)) best = { key: k, distance };
  }
  return best?.key;
}
