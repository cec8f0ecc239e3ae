/**
 * What a benchmark section is. `npm run bench` runs every section in scripts/bench/index.ts
 * in one process, prints each one's report and writes all raw figures to one JSON file.
 * A new section (the real engine's up/no-op up/destroy, an Ansible comparison, ...) is a
 * module exporting a `BenchSection`, added to the list in index.ts.
 */
export interface BenchOptions {
  /** Timed repetitions per measurement (the median is reported). */
  readonly repeat: number;
  /** App counts of the scaling measurement. */
  readonly scale: readonly number[];
}

export interface SectionResult {
  /** Human-readable lines: a table, ratios. */
  readonly report: readonly string[];
  /** Raw figures, kept in the JSON file for comparison between commits. */
  readonly data: unknown;
}

export interface BenchSection {
  /** Short key, also the section's key in the JSON file. */
  readonly name: string;
  readonly title: string;
  run(opts: BenchOptions): Promise<SectionResult>;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Milliseconds since `start` (from process.hrtime.bigint()). */
export function msSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** A fixed-width table: the first row is the header. */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd());
}
