/**
 * npm run schema [-- --check]
 *
 * Writes schemas/<stack>.schema.json for every stack from the program's zod schemas
 * (stacks/schema.ts) and makes sure each Pulumi.<stack>.yaml starts with the
 * `# yaml-language-server: $schema=…` line that points editors at it.
 * With --check, writes nothing and exits 1 naming every file that is stale.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { schemaModeline, schemaPath, STACK_CONFIG_SCHEMAS, stackFileSchema } from "../stacks/schema";

const ROOT = path.resolve(__dirname, "..");

/** The file text of a stack's schema: 2-space JSON, one trailing newline. */
export function schemaText(stack: string): string {
  return `${JSON.stringify(stackFileSchema(stack), null, 2)}\n`;
}

/** The stack file with the modeline as its first line (an older modeline is replaced). */
export function withModeline(stack: string, text: string): string {
  const lines = text.split("\n");
  if (lines[0]?.startsWith("# yaml-language-server:")) lines.shift();
  return [schemaModeline(stack), ...lines].join("\n");
}

function main(argv: readonly string[]): number {
  const unknown = argv.filter((a) => a !== "--check");
  if (unknown.length) {
    process.stderr.write(`schema: unexpected argument ${JSON.stringify(unknown[0])}\nusage: npm run schema [-- --check]\n`);
    return 2;
  }
  const check = argv.includes("--check");
  const stale: string[] = [];
  for (const stack of Object.keys(STACK_CONFIG_SCHEMAS).sort()) {
    const files: [string, (old: string | undefined) => string][] = [
      [schemaPath(stack), () => schemaText(stack)],
      [`Pulumi.${stack}.yaml`, (old) => withModeline(stack, old ?? "")],
    ];
    for (const [rel, make] of files) {
      const file = path.join(ROOT, rel);
      const old = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined;
      const next = make(old);
      if (old === next) continue;
      stale.push(rel);
      if (!check) {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, next);
      }
    }
  }
  if (check && stale.length) {
    process.stderr.write(`schema: stale, run \`npm run schema\`: ${stale.join(", ")}\n`);
    return 1;
  }
  process.stdout.write(stale.length ? `schema: wrote ${stale.join(", ")}\n` : "schema: up to date\n");
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
