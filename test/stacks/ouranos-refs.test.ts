/**
 * Issue 13 item 1 in stack ouranos: Daedalus's `repo.ref` is resolved to a commit before
 * any resource (`ouranosProgram`), with the real `git ls-remote` against a local bare
 * repository standing for the configured URL. A branch that moves is a change (the
 * checkout and everything after it re-run); a missing ref fails the preview with nothing
 * registered; the commit deployed is the stack output `daedalusCommit`; the checkout
 * script deploys the previewed commit even when the branch moved in between.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import { type ConfigSource } from "../../src/config/loader";
import { GitRefLookupError, gitLsRemote, type LsRemote } from "../../src/git/refs";
import { type MockRun, runProgram } from "../../src/testing/mocks";
import { command, rerunOf, reveal, revisionHash } from "../helpers/inputs";
import { type TestRepository, testRepository } from "../helpers/git";
import { runProcessSync } from "../helpers/spawn";
import { ouranosConfig, registryCalls } from "./ouranos-config";

const URL = "https://git.helu.ca/r/daedalus.git";

let work: string;
let bare: string;

let repo: TestRepository;
const commit = (message: string): string => repo.commit("main", { README: `${message}\n` }, message);

/** The real git, asked about the bare repository instead of the configured URL. */
const lsRemote: LsRemote = (url, patterns) => {
  expect(url).toBe(URL);
  return gitLsRemote(bare, patterns);
};

async function build(ref: string): Promise<MockRun> {
  const { ouranosProgram } = await import("../../stacks/ouranos");
  const { config, secretKeys } = ouranosConfig({ "fleet:ouranos": { daedalus: { repo: { url: URL, ref } } } });
  return runProgram(() => ouranosProgram({ lsRemote }), { stack: "ouranos", config, secretKeys, calls: registryCalls });
}

/** What re-runs the command: its triggers (replace) and its script's revision (update). */
const triggers = (run: MockRun, name: string) => JSON.stringify(rerunOf(command(run, name)));

/**
 * Run the checkout command's script as the host would (its whole `create` text through
 * /bin/sh), in `dir` instead of /srv/daedalus, against the bare repository instead of the
 * URL, with `runuser` a stand-in that runs the command as the current user.
 */
function runCheckout(run: MockRun, dir: string): { code: number; stdout: string; stderr: string } {
  const create = String(reveal(command(run, "daedalus-checkout-command").inputs.create));
  const bin = join(work, "bin");
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, "runuser"), '#!/bin/sh\n[ "$1" = -u ] && [ "$3" = -- ] || exit 9\nshift 3\nexec "$@"\n', { mode: 0o755 });
  const script = create.replaceAll("/srv/daedalus", dir).replaceAll(URL, bare);
  return runProcessSync("/bin/sh", ["-c", script], { env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}` } });
}

describe("stack ouranos: Daedalus's ref resolved at preview", () => {
  let first: string;
  let tagged: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "fleet-ouranos-refs-"));
    repo = testRepository(work, "daedalus");
    bare = repo.bare;
    first = commit("one");
    repo.tag("v1.4.2", "v1.4.2");
    tagged = first;
  });
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("a tag: the commit is the stack output and the checkout deploys exactly it", async () => {
    const run = await build("v1.4.2");
    expect(run.outputs?.daedalusCommit).toBe(tagged);
    const dir = join(work, "srv-tag");
    mkdirSync(dir);
    const r = runCheckout(run, dir);
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe(tagged);
    expect(rerunOf(command(run, "daedalus-checkout-command")).revision).toBe(revisionHash([`${URL}#v1.4.2@${tagged}`]));
  });

  it("a branch that moves is a change: the checkout, the backend and the activation (the one restart) re-run", async () => {
    const before = await build("main");
    expect(before.outputs?.daedalusCommit).toBe(first);
    const moved = commit("two");
    const after = await build("main");
    expect(after.outputs?.daedalusCommit).toBe(moved);
    for (const name of ["daedalus-checkout-command", "daedalus-backend-command", "daedalus-migrate-command", "daedalus-activate-command"]) {
      expect(triggers(after, name), name).not.toBe(triggers(before, name));
    }
    // Unchanged branch: the same inputs (an empty preview).
    const again = await build("main");
    expect(triggers(again, "daedalus-checkout-command")).toBe(triggers(after, "daedalus-checkout-command"));
  });

  it("a ref that does not exist fails the preview, naming it, before any resource", async () => {
    // Outside any Pulumi program: the lookup runs before ouranos() builds anything, so the
    // call fails without registering a resource (there is no engine here to register with).
    const { ouranosProgram } = await import("../../stacks/ouranos");
    const { config, secretKeys } = ouranosConfig({ "fleet:ouranos": { daedalus: { repo: { url: URL, ref: "v9.9.9" } } } });
    const flat = new Map(Object.entries(config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
    const source: ConfigSource = {
      get: (key) => flat.get(`fleet:${key}`),
      isSecret: (key) => secretKeys.includes(`fleet:${key}`),
      secret: (key) => pulumi.secret(flat.get(`fleet:${key}`) ?? ""),
      keys: () => [...flat.keys()].filter((k) => k.startsWith("fleet:")).map((k) => k.slice("fleet:".length)),
    };
    const err = await ouranosProgram({ source, lsRemote }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GitRefLookupError);
    expect((err as Error).message).toBe(`stack ouranos (fleet:ouranos.daedalus.repo): cannot resolve v9.9.9 of ${URL}: the repository has no branch or tag named v9.9.9`);
  });

  it("a pinned commit in config is used as it is: nothing is looked up", async () => {
    const { ouranosProgram } = await import("../../stacks/ouranos");
    const { config, secretKeys } = ouranosConfig({ "fleet:ouranos": { daedalus: { repo: { url: URL, ref: "main", commit: first } } } });
    const run = await runProgram(
      () =>
        ouranosProgram({
          lsRemote: () => {
            throw new Error("looked up");
          },
        }),
      { stack: "ouranos", config, secretKeys, calls: registryCalls },
    );
    expect(run.outputs?.daedalusCommit).toBe(first);
  });

  it("the checkout script deploys the previewed commit even when the branch moved since", async () => {
    const previewed = commit("three");
    const run = await build("main");
    expect(run.outputs?.daedalusCommit).toBe(previewed);
    const later = commit("four");
    const dir = join(work, "srv");
    mkdirSync(dir);
    const r = runCheckout(run, dir);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(previewed);
    expect(later).not.toBe(previewed);
  });
});
