/**
 * `npm run render -- --stack menagerie`: the Caddy files pass the real `caddy validate`
 * (paths moved from the container's /etc/caddy into a temp dir), secrets are markers in
 * 0600 files, and compose files kept in the app repositories show as marked placeholders.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { GIT_SOURCE_PLACEHOLDER, type RenderResult, renderStack, SECRET_MARKER_PATTERN } from "../../stacks/render";
import { expectValid, runTool } from "../helpers/validators";

let out = "";
let result: RenderResult;

beforeAll(async () => {
  out = mkdtempSync(path.join(tmpdir(), "fleet-render-menagerie-"));
  result = await renderStack("menagerie", path.join(out, "r"));
});

describe("render: menagerie", () => {
  it("writes the Caddy tree, both compose projects and their env files", () => {
    expect(result.files.map((f) => `${f.host}:${f.path}`)).toEqual([
      "bastion:/devl/caddy-proxy/Caddyfile",
      "bastion:/devl/caddy-proxy/routes/demo/peregrine.caddy",
      "bastion:/devl/caddy-proxy/routes/menagerie/peregrine.caddy",
      "bastion:/devl/caddy-proxy/sites/demo.caddy",
      "bastion:/devl/caddy-proxy/sites/menagerie.caddy",
      "bastion:/opt/peregrine-cloud/.env",
      "bastion:/opt/peregrine-cloud/compose.cloud.yml",
      "bastion:/opt/peregrine-demo/.env",
      "bastion:/opt/peregrine-demo/compose.demo.yml",
    ]);
  });

  it("the Caddyfile, sites and routes pass caddy validate", () => {
    const root = path.join(out, "r", "bastion", "devl", "caddy-proxy");
    const copy = mkdtempSync(path.join(tmpdir(), "fleet-caddy-"));
    const files = result.files.filter((f) => f.path.startsWith("/devl/caddy-proxy/"));
    for (const f of files) {
      const rel = path.relative("/devl/caddy-proxy", f.path);
      const dest = path.join(copy, rel);
      mkdirSync(path.dirname(dest), { recursive: true });
      // The container sees /devl/caddy-proxy as /etc/caddy.
      writeFileSync(dest, readFileSync(path.join(root, rel), "utf8").replaceAll("/etc/caddy", copy));
    }
    expect(readdirSync(copy)).toContain("Caddyfile");
    const r = runTool("caddy", ["validate", "--config", path.join(copy, "Caddyfile"), "--adapter", "caddyfile"]);
    expectValid(r, "menagerie Caddyfile");
    const adapted = runTool("caddy", ["adapt", "--config", path.join(copy, "Caddyfile"), "--adapter", "caddyfile"]);
    expect(adapted.output).toContain('"X-Cf-Session":["{http.request.header.Cookie}"]');
    expect(adapted.output).toContain('"dial":"host.docker.internal:8505"');
  });

  it("keeps secrets as markers in 0600 files", () => {
    const env = result.files.find((f) => f.path === "/opt/peregrine-cloud/.env")!;
    expect(env).toMatchObject({ mode: "0600", secret: true });
    for (const key of ["CF_SERVER_SECRET", "DIRECTUS_JWT_SECRET"]) {
      expect(env.content).toMatch(new RegExp(`^${key}='${SECRET_MARKER_PATTERN.source}'$`, "m"));
    }
    expect(env.content).toMatch(new RegExp(`^PLATFORM_DB_URL='postgresql://cf_platform:${SECRET_MARKER_PATTERN.source}@host.docker.internal:5433/circuitforge_platform'$`, "m"));
  });

  it("shows compose files kept in the app repositories as marked placeholders", () => {
    expect(result.files.find((f) => f.path === "/opt/peregrine-cloud/compose.cloud.yml")?.content).toBe(GIT_SOURCE_PLACEHOLDER);
  });
});
