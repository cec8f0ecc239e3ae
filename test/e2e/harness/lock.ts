/**
 * One fleet per machine: the namespaces, bridge and addresses are global names.
 * A pid lock file says who owns them; a lock whose owner is dead marks a crashed
 * run, whose leftovers are removed before a new fleet is created.
 */
import { existsSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanupPlan, driveAsync } from "./cleanup";
import { isAlive, sleep } from "./proc";

export const LOCK_FILE = "/run/lock/pulumi-fleet-e2e.lock";
/** Created in every work dir: only a directory carrying it is ever removed as a leftover. */
export const WORKDIR_MARKER = ".pulumi-fleet-e2e";

interface LockInfo {
  readonly pid: number;
  readonly workDir?: string;
  readonly since: string;
}

function readLock(): LockInfo | undefined {
  try {
    const parsed: unknown = JSON.parse(readFileSync(LOCK_FILE, "utf8"));
    if (typeof parsed === "object" && parsed !== null && "pid" in parsed && typeof parsed.pid === "number") {
      const workDir = "workDir" in parsed && typeof parsed.workDir === "string" ? parsed.workDir : undefined;
      const since = "since" in parsed && typeof parsed.since === "string" ? parsed.since : "?";
      return { pid: parsed.pid, since, ...(workDir ? { workDir } : {}) };
    }
  } catch {
    // missing or half-written
  }
  return undefined;
}

/** Record the work dir in our lock, so a later run can remove it if we crash. */
export function updateLock(workDir: string): void {
  const info: LockInfo = { pid: process.pid, workDir, since: new Date().toISOString() };
  writeFileSync(LOCK_FILE, JSON.stringify(info));
}

export function releaseLock(): void {
  if (readLock()?.pid === process.pid) {
    try {
      unlinkSync(LOCK_FILE);
    } catch {
      // gone already
    }
  }
}

/**
 * Take the machine-wide fleet lock, waiting up to `timeoutMs` for a live owner, then
 * remove whatever a crashed run left behind (namespaces, bridge, veths, its work dir).
 */
export async function acquireLock(timeoutMs: number): Promise<void> {
  const start = Date.now();
  for (;;) {
    try {
      writeFileSync(LOCK_FILE, JSON.stringify({ pid: process.pid, since: new Date().toISOString() } satisfies LockInfo), {
        flag: "wx",
      });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw new Error(`cannot create ${LOCK_FILE}: ${(e as Error).message}`);
    }
    const owner = readLock();
    if (owner?.pid === process.pid) {
      throw new Error("a test fleet is already running in this process: call teardown() before startHosts() again");
    }
    if (owner && isAlive(owner.pid)) {
      if (Date.now() - start > timeoutMs) {
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${LOCK_FILE}: process ${owner.pid} has owned the test fleet since ${owner.since}`,
        );
      }
      await sleep(250);
      continue;
    }
    // Dead owner (or unreadable lock): clean up after it, then retry.
    const problems: string[] = [];
    const stale = owner?.workDir && existsSync(join(owner.workDir, WORKDIR_MARKER)) ? owner.workDir : undefined;
    await driveAsync(cleanupPlan({ pids: () => [], ...(stale ? { workDir: stale } : {}), problems }));
    if (problems.length > 0) throw new Error(`cannot remove leftovers of a previous run:\n${problems.join("\n")}`);
    try {
      unlinkSync(LOCK_FILE);
    } catch {
      // someone else removed it
    }
  }
  // Leftovers without a lock file (e.g. it was deleted by hand).
  const problems: string[] = [];
  await driveAsync(cleanupPlan({ pids: () => [], problems }));
  if (problems.length > 0) {
    releaseLock();
    throw new Error(`cannot remove leftovers of a previous run:\n${problems.join("\n")}`);
  }
}
