/**
 * npm run render -- --stack <name> --out <dir> [--clean]
 *
 * Writes every file the stack's program would put on its hosts to
 * <dir>/<host>/<absolute path>, plus <dir>/INDEX.tsv (owner, group, mode, secret
 * flag). The program runs under mocks in this process: no secret is read (secrets
 * are SECRET__…__ markers), no registry or host is contacted (image digests are fake).
 */
import * as path from "node:path";
// Only what checks the request: a usage error, an unknown stack or an output directory it
// must not touch is answered without loading Pulumi or any composition (stacks/names.ts).
import { checkStackName, prepareOutDir, STACK_NAMES } from "../stacks/names";
import { RenderUsageError } from "../stacks/usage-error";

const USAGE = [
  "usage: npm run render -- --stack <name> --out <dir> [--clean]",
  "",
  "  --stack <name>  stack to render (Pulumi.<name>.yaml); known: " + STACK_NAMES.join(", "),
  "  --out <dir>     directory to write <host>/<absolute path> files and INDEX.tsv into (new or empty)",
  "  --clean         replace <dir> when it holds a previous render",
].join("\n");

interface Args {
  readonly stack: string;
  readonly out: string;
  readonly clean: boolean;
}

function parseArgs(argv: readonly string[]): Args | "help" {
  const values: Record<string, string> = {};
  let clean = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "-h" || arg === "--help") return "help";
    if (arg === "--clean") {
      clean = true;
      continue;
    }
    const m = /^--(stack|out)(?:=(.*))?$/.exec(arg);
    if (!m) throw new RenderUsageError(`unexpected argument ${JSON.stringify(arg)}`);
    const name = m[1]!;
    const value = m[2] ?? argv[++i];
    if (value === undefined || value === "" || (m[2] === undefined && value.startsWith("--"))) throw new RenderUsageError(`--${name} needs a value`);
    if (name in values) throw new RenderUsageError(`--${name} given twice`);
    values[name] = value;
  }
  const missing = ["stack", "out"].filter((k) => !(k in values));
  if (missing.length) throw new RenderUsageError(`missing ${missing.map((k) => `--${k}`).join(" and ")}`);
  // `npm run` starts scripts in the package root; a relative --out is relative to where npm was run.
  return { stack: values.stack!, out: path.resolve(process.env.INIT_CWD ?? process.cwd(), values.out!), clean };
}

async function main(): Promise<number> {
  let args: Args | "help";
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (e instanceof RenderUsageError) {
      process.stderr.write(`render: ${e.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw e;
  }
  if (args === "help") {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  try {
    checkStackName(args.stack);
    prepareOutDir(args.out, args.clean);
    // Loaded only now: a usage error answers without loading Pulumi and the program.
    const { renderStack } = await import("../stacks/render");
    const { files } = await renderStack(args.stack, args.out, { clean: args.clean });
    const secrets = files.filter((f) => f.secret).length;
    process.stdout.write(`rendered ${files.length} files (${secrets} secret, with markers) of stack "${args.stack}" into ${args.out}; see INDEX.tsv\n`);
    return 0;
  } catch (e) {
    if (e instanceof RenderUsageError) {
      process.stderr.write(`render: ${e.message}\n\n${USAGE}\n`);
      return 2;
    }
    process.stderr.write(`render: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`render: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
