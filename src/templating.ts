/**
 * Templates under `templates/` are config files as an operator would write them,
 * with Jinja2-style placeholders filled by nunjucks. Strict: an undefined variable
 * is an error, never an empty string; no HTML autoescaping (these are config files).
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import nunjucks from "nunjucks";

/** The package root: where `templates/` lives, from `src/` or from `dist/src/`. */
export function packageRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const pkg = path.join(dir, "package.json");
    if (existsSync(pkg)) {
      const name = (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name;
      if (name === "pulumi-fleet") return dir;
    }
    dir = path.dirname(dir);
  }
  throw new Error(`pulumi-fleet: cannot find the package root above ${__dirname}`);
}

export function templatesDir(): string {
  return path.join(packageRoot(), "templates");
}

let env: nunjucks.Environment | undefined;

function environment(): nunjucks.Environment {
  env ??= new nunjucks.Environment(new nunjucks.FileSystemLoader(templatesDir(), { noCache: true }), {
    autoescape: false,
    throwOnUndefined: true,
    trimBlocks: true,
    lstripBlocks: true,
  });
  return env;
}

/**
 * Render `templates/<name>` with `context`. Pure apart from reading the template file.
 * @example renderTemplate("mnemosyne/nginx.conf.njk", { port: 23181 })
 */
export function renderTemplate(name: string, context: Record<string, unknown>): string {
  const text = environment().render(name, context);
  return text.endsWith("\n") ? text : `${text}\n`;
}
