/**
 * The app repositories the example stack files name, as local bare repositories, for
 * programs loaded as a user's Pulumi loads them (the real CLI, Pulumi's runner): a preview resolves every app's ref with `git
 * ls-remote` and reads its compose file at the commit (src/git/sources.ts), and nothing
 * may leave loopback here. git's `url.<base>.insteadOf` (through `GIT_CONFIG_COUNT`/
 * `GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n` in the environment, so no config file of the
 * user is touched) sends the configured URLs to these repositories.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { git } from "./git";
import { cloudCompose, DEMO_COMPOSE } from "../stacks/menagerie-config";

/** Each configured URL prefix → the directory its repositories live in below `root`. */
const PREFIXES: readonly [prefix: string, dir: string][] = [
  ["https://git.circuitforge.tech/pyr0ball/", "circuitforge"],
  ["git@github.com:IvanTytar/", "github-ivantytar"],
  ["https://git.helu.ca/r/", "helu"],
];

function repository(root: string, dir: string, name: string, branch: string, files: Record<string, string>, tag?: string): void {
  const bare = path.join(root, dir, `${name}.git`);
  const work = path.join(root, "work", dir, name);
  mkdirSync(bare, { recursive: true });
  mkdirSync(work, { recursive: true });
  git(bare, "init", "-q", "--bare", ".");
  // The DAARION repository task fetches without blobs, as GitHub serves it.
  git(bare, "config", "uploadpack.allowFilter", "true");
  git(work, "init", "-q", ".");
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(work, p)), { recursive: true });
    writeFileSync(path.join(work, p), text);
  }
  git(work, "add", "-A");
  git(work, "commit", "-q", "-m", "fixture");
  git(work, "push", "-q", bare, `HEAD:refs/heads/${branch}`);
  if (tag) {
    git(work, "tag", tag);
    git(work, "push", "-q", bare, tag);
  }
}

/**
 * Make the repositories under `root` (peregrine at main: its compose.cloud.yml publishing
 * 8505, and 8515 for the pull-request preview that moves it there, compose.demo.yml and the
 * Dockerfile both build;
 * falcon at v1.0.0; DAARION's microdao-daarion at main with a migration; Daedalus at main) and return the
 * environment that points git at them.
 */
export function appRepositories(root: string): Record<string, string> {
  const cloud = cloudCompose("peregrine", 8505).replace('      - "8505:8501"\n', '      - "8505:8501"\n      - "8515:8501"\n');
  // Both build from the repository's root (build: .): the Dockerfile is checked there at preview.
  repository(root, "circuitforge", "peregrine", "main", { "compose.cloud.yml": cloud, "compose.demo.yml": DEMO_COMPOSE, Dockerfile: "FROM scratch\n" });
  repository(root, "circuitforge", "falcon", "main", { "compose.cloud.yml": cloudCompose("falcon", 8506), Dockerfile: "FROM scratch\n" }, "v1.0.0");
  repository(root, "github-ivantytar", "microdao-daarion", "main", { "migrations/001_init.sql": "CREATE TABLE t (id int);\n" });
  repository(root, "helu", "daedalus", "main", { "README.md": "daedalus\n" });
  const env: Record<string, string> = { GIT_CONFIG_COUNT: String(PREFIXES.length) };
  PREFIXES.forEach(([prefix, dir], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = `url.${path.join(root, dir)}/.insteadOf`;
    env[`GIT_CONFIG_VALUE_${i}`] = prefix;
  });
  return env;
}
