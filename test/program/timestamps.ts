/**
 * What in an input looks like a point in time: the determinism checks (an unchanged
 * program previews empty) look for these in every resource input.
 */

const DAY = 86_400;
const MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec";

/**
 * What in `value` looks like a point in time: an ISO-8601 date, a Date.toString(), or
 * epoch seconds/milliseconds within a week of now. Hex runs (digests, content hashes)
 * are removed first: a sha256 may well hold ten digits in a row.
 */
export function timestampLike(value: string | number, nowMs = Date.now()): string[] {
  const nowS = Math.floor(nowMs / 1000);
  const near = (n: number) => (n >= nowS - 7 * DAY && n <= nowS + DAY) || (n >= (nowS - 7 * DAY) * 1000 && n <= (nowS + DAY) * 1000);
  if (typeof value === "number") return near(value) ? [String(value)] : [];
  const text = value
    .replace(/sha256:[0-9a-f]{64}/g, " ")
    .replace(/(?<![0-9A-Za-z])[0-9a-fA-F]{32,}(?![0-9A-Za-z])/g, " ")
    // The IAM policy language version, a constant of every MinIO/S3 policy document.
    .replace(/"Version"\s*:\s*"2012-10-17"/g, " ");
  const found: string[] = [];
  for (const m of text.matchAll(/\b(?:19|20)\d{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])(?:[T ]\d{2}:\d{2}(?::\d{2})?)?/g)) found.push(m[0]);
  for (const m of text.matchAll(new RegExp(`\\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),? (?:\\d{1,2} )?(?:${MONTHS})`, "g"))) found.push(m[0]);
  for (const m of text.matchAll(/(?<![0-9A-Za-z])(\d{10}|\d{13})(?![0-9A-Za-z])/g)) if (near(Number(m[1]))) found.push(m[1]!);
  return found;
}
