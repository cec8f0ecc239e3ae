/**
 * The Pulumi CLI as a user runs it: a copy of the project in a temp directory (the
 * files a checkout has, node_modules linked), `pulumi login file://…`, `pulumi stack
 * init`, `pulumi config set --secret`, `pulumi preview`. The engine is the one
 * `scripts/build-engine.sh` installs into `.engine/bin` (CLI v3.259.0, language host
 * v3.259.0, the provider plugins); nothing is downloaded.
 */
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, symlinkSync } from "node:fs";
import * as path from "node:path";
import { runProcess } from "../helpers/spawn";

export const REPO = path.resolve(__dirname, "../..");
/** Where the engine is: `.engine/bin` of this checkout, or FLEET_ENGINE_BIN. */
export const ENGINE_BIN = process.env.FLEET_ENGINE_BIN ?? path.join(REPO, ".engine", "bin");

const NEEDED = ["pulumi", "pulumi-language-nodejs", "pulumi-resource-command", "pulumi-resource-random", "pulumi-resource-docker", "pulumi-resource-postgresql"];

/** Fails (never skips) when the engine is not installed. */
export function requireEngine(): void {
  const missing = NEEDED.filter((b) => !existsSync(path.join(ENGINE_BIN, b)));
  if (missing.length) throw new Error(`the Pulumi engine is not installed in ${ENGINE_BIN} (missing ${missing.join(", ")}): run scripts/build-engine.sh`);
}

/** The files of a checkout the program needs, copied to `dir` (node_modules linked). */
export function copyProject(dir: string, stackFiles: readonly string[]): void {
  mkdirSync(dir, { recursive: true });
  for (const f of ["Pulumi.yaml", "package.json", "tsconfig.json", "tsconfig.pulumi.json", ...stackFiles.map((s) => `Pulumi.${s}.yaml`)]) {
    cpSync(path.join(REPO, f), path.join(dir, f));
  }
  for (const d of ["src", "stacks", "templates"]) cpSync(path.join(REPO, d), path.join(dir, d), { recursive: true });
  symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"));
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Wall time of the command, for the report (never asserted). */
  seconds: number;
}

export interface Cli {
  readonly dir: string;
  run(args: readonly string[], input?: string): Promise<CliResult>;
  /** run(), failing with the whole output unless it exits 0. */
  ok(args: readonly string[], input?: string): Promise<CliResult>;
}

/** A user's environment: PATH with the engine first, PULUMI_HOME in `<home>/pulumi`, the test passphrase, no update check or plugin download. */
export function cliEnv(home: string, extraEnv: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: `${ENGINE_BIN}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    HOME: home,
    PULUMI_HOME: path.join(home, "pulumi"),
    PULUMI_CONFIG_PASSPHRASE: "fleet-cli-test",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true",
    NO_COLOR: "1",
    ...extraEnv,
  };
}

/** A user's shell in `dir`: state in `<home>/state` (file backend), PULUMI_HOME in `<home>/pulumi`. */
export function cli(dir: string, home: string, extraEnv: Record<string, string> = {}): Cli {
  const env = cliEnv(home, extraEnv);
  const run = async (args: readonly string[], input?: string): Promise<CliResult> => {
    const started = process.hrtime.bigint();
    // The one spawn helper (EPIPE-safe stdin); a CLI command is bounded by the test's own timeout.
    const r = await runProcess(path.join(ENGINE_BIN, "pulumi"), [...args, "--non-interactive", "--color", "never"], {
      cwd: dir,
      env,
      ...(input !== undefined ? { input } : {}),
      timeoutMs: 30 * 60_000,
    });
    return { ...r, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
  };
  return {
    dir,
    run,
    async ok(args, input) {
      const r = await run(args, input);
      if (r.code !== 0) throw new Error(`pulumi ${args.join(" ")} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
      return r;
    },
  };
}

/** A fresh ed25519 private key (what `pulumi config set --secret fleet:sshPrivateKey < key` reads). */
export function sshKey(dir: string): string {
  const file = path.join(dir, "id_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "fleet-cli-test", "-f", file]);
  return file;
}
