import { createHash } from "node:crypto";

/** Hex sha256 of text: the deterministic trigger for "re-run when this content changes". */
export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
