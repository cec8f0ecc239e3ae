/**
 * One pre-loaded docker-compose for the whole `npm test` run (vitest globalSetup).
 *
 * docker-compose v1 is a Python program that spends about a CPU second importing
 * itself on every start; the suite starts it dozens of times (validators of rendered
 * compose projects, the components' validate scripts). compose-server.py imports it
 * once and forks a copy per invocation that runs compose's own `main()`; the
 * `docker-compose` on the tests' PATH (compose-shim/) hands each invocation to it
 * with its argv, working directory, environment and standard streams. Same program,
 * same inputs, same output and exit status, about 0.05 CPU s instead of 1.
 *
 * Without docker-compose installed nothing is started and PATH is left alone, so the
 * tests fail as before ("validator docker-compose is not installed").
 */
import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

const SHIM_DIR = path.join(__dirname, "compose-shim");
const SERVER = path.join(__dirname, "compose-server.py");

/** The first `name` on PATH that is executable, or undefined. */
function which(name: string, pathVar: string): string | undefined {
  for (const dir of pathVar.split(":").filter(Boolean)) {
    const file = path.join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The interpreter named by a script's `#!` line (docker-compose's own Python). */
function interpreter(script: string): string | undefined {
  const first = readFileSync(script, "utf8").split("\n", 1)[0] ?? "";
  const m = /^#!\s*(\S+)/.exec(first);
  return m?.[1];
}

/** Start the server and put the shim first on PATH (inherited by the test workers). Returns the teardown. */
export async function startComposeServer(): Promise<() => void> {
  const real = which("docker-compose", process.env.PATH ?? "");
  const python = real ? interpreter(real) : undefined;
  if (!real || !python || !python.includes("python")) return () => {};
  const dir = mkdtempSync(path.join(tmpdir(), "fleet-compose-server-"));
  const socket = path.join(dir, "socket");
  const child: ChildProcess = spawn(python, [SERVER, socket], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("ready\n")) resolve();
    });
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`compose-server.py exited (${code}) before it was ready`)));
  });
  child.stdout!.resume();
  process.env.FLEET_COMPOSE_SOCKET = socket;
  process.env.FLEET_COMPOSE_REAL = real;
  process.env.PATH = `${SHIM_DIR}:${process.env.PATH ?? ""}`;
  return () => {
    child.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  };
}
