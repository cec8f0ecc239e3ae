/**
 * `npm run render -- --stack ouranos`: the exact set of files, every one accepted by
 * the real validator of the daemon that reads it (offline, in temp dirs), secrets as
 * markers only in 0600 files flagged secret, and the same bytes on every render.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fakeDigest, INDEX_COLUMNS, type RenderedFile, type RenderResult, RenderUsageError, renderStack, SECRET_MARKER_PATTERN } from "../../stacks/render";
import { HANG_LIMIT_MS, runProcess } from "../helpers/spawn";
import { breakText, key, RULES } from "./validate";

const ROOT = path.resolve(__dirname, "../..");

/**
 * A module Node runs before the CLI (`--import`): as the process exits it prints
 * `loaded @pulumi/<path>` to stderr for every module of node_modules/@pulumi it loaded.
 */
const PULUMI_PROBE =
  "data:text/javascript," +
  encodeURIComponent(
    'import { createRequire } from "node:module"; const cache = createRequire(process.cwd() + "/").cache;' +
      'process.on("exit", () => { for (const k of Object.keys(cache)) { const i = k.indexOf("/node_modules/@pulumi/"); if (i >= 0) process.stderr.write("loaded " + k.slice(i + 14) + "\\n"); } });',
  );

/** Every file the ouranos stack manages, as `<host><path>`. A new file must be added here and to a rule in validate.ts. */
const EXPECTED = [
  "prospero/etc/grafana/provisioning/dashboards/fleet.yaml",
  "prospero/etc/prometheus/prometheus.base.yml",
  "prospero/etc/prometheus/rules.d/daedalus.yml",
  "prospero/etc/prometheus/scrape.d/daedalus.yml",
  "prospero/etc/prometheus/scrape.d/mnemosyne.yml",
  "prospero/var/lib/grafana/dashboards/daedalus.json",
  "puck/etc/nginx/conf.d/daedalus.conf",
  "puck/etc/systemd/system/daedalus-api.service",
  "puck/opt/mnemosyne/.env",
  "puck/opt/mnemosyne/docker-compose.yaml",
  "puck/opt/mnemosyne/nginx/mnemosyne.conf",
  "puck/srv/daedalus/.env",
  "titania/etc/haproxy/conf.d/daedalus.cfg",
  "titania/etc/haproxy/conf.d/mnemosyne.cfg",
  "titania/etc/haproxy/haproxy.cfg",
  "titania/etc/haproxy/hosts.d/daedalus.route.map",
  "titania/etc/haproxy/hosts.d/mnemosyne.route.map",
  "umbriel/opt/neo4j-mnemosyne/.env",
  "umbriel/opt/neo4j-mnemosyne/docker-compose.yaml",
];

/** Files below `dir`, relative, sorted. */
function walk(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...walk(dir, r));
    else out.push(r);
  }
  return out.sort();
}

function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(walk(dir).map((r) => [r, readFileSync(path.join(dir, r)).toString("base64")]));
}

interface IndexRow {
  readonly host: string;
  readonly path: string;
  readonly owner: string;
  readonly group: string;
  readonly mode: string;
  readonly secret: string;
  readonly resource: string;
}

function parseIndex(text: string): { header: string[]; rows: IndexRow[] } {
  const lines = text.split("\n");
  expect(lines.pop()).toBe("");
  const header = lines.filter((l) => l.startsWith("#"));
  const body = lines.filter((l) => !l.startsWith("#"));
  expect(body[0]!.split("\t")).toEqual([...INDEX_COLUMNS]);
  const rows = body.slice(1).map((l) => {
    const cells = l.split("\t");
    expect(cells).toHaveLength(INDEX_COLUMNS.length);
    const [host, p, owner, group, mode, secret, resource] = cells as [string, string, string, string, string, string, string];
    return { host, path: p, owner, group, mode, secret, resource };
  });
  return { header, rows };
}

const dirs: string[] = [];
const tmp = (prefix: string): string => {
  const d = mkdtempSync(path.join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};

let out = "";
let result: RenderResult;
let files: RenderedFile[] = [];

beforeAll(async () => {
  out = path.join(tmp("fleet-render-"), "out");
  result = await renderStack("ouranos", out);
  files = result.files;
});

afterAll(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("render of stack ouranos: the files", () => {
  it("writes exactly the expected files, at <host>/<absolute path>, plus INDEX.tsv", () => {
    expect(walk(out)).toEqual(["INDEX.tsv", ...EXPECTED].sort());
    expect(files.map(key)).toEqual(EXPECTED);
    for (const f of files) expect(readFileSync(path.join(out, f.host, f.path), "utf8")).toBe(f.content);
  });

  it("has a validator rule for every file: each file matches exactly one rule, each rule its files", () => {
    for (const f of files) {
      const owners = RULES.filter((r) => r.match.test(key(f))).map((r) => r.name);
      expect({ file: key(f), owners: owners.length === 1 ? "one" : owners }).toEqual({ file: key(f), owners: "one" });
    }
    for (const r of RULES) if (!r.optional) expect({ rule: r.name, files: files.filter((f) => r.match.test(key(f))).length > 0 }).toEqual({ rule: r.name, files: true });
  });

  // One test per rule, each running the real tool on exactly the rendered bytes.
  describe.each(RULES.map((r) => [r.name, r] as const))("%s", (_name, rule) => {
    it("is accepted by the real validator", () => {
      const matched = files.filter((f) => rule.match.test(key(f)));
      if (matched.length === 0) {
        expect(rule.optional).toBe(true); // not rendered by this stack's config
        return;
      }
      const checkDirs: string[] = [];
      try {
        rule.check(matched, files, checkDirs);
      } finally {
        for (const d of checkDirs) rmSync(d, { recursive: true, force: true });
      }
    });

    // Proof that the check reads every file it claims: a broken copy of any one of them fails it.
    it("refuses a broken copy of each of its files", () => {
      const matched = files.filter((f) => rule.match.test(key(f)));
      for (const victim of matched) {
        const broken = matched.map((f) => (f === victim ? { ...f, content: (rule.corrupt ?? breakText)(f) } : f));
        const all = files.map((f) => (f === victim ? broken.find((b) => b.path === f.path)! : f));
        const checkDirs: string[] = [];
        try {
          expect(() => rule.check(broken, all, checkDirs), `broken ${key(victim)}`).toThrow();
        } finally {
          for (const d of checkDirs) rmSync(d, { recursive: true, force: true });
        }
      }
    });
  });
});

describe("render of stack ouranos: INDEX.tsv and secrets", () => {
  it("lists every file with owner, group, mode, the secret flag and its resource", () => {
    const { header, rows } = parseIndex(readFileSync(path.join(out, "INDEX.tsv"), "utf8"));
    expect(rows.map((r) => `${r.host}${r.path}`)).toEqual(EXPECTED);
    for (const [i, f] of files.entries()) {
      expect(rows[i]).toEqual({ host: f.host, path: f.path, owner: f.owner, group: f.group, mode: f.mode, secret: f.secret ? "secret" : "-", resource: f.resourceName });
      expect((statSync(path.join(out, f.host, f.path)).mode & 0o777).toString(8).padStart(4, "0")).toBe(f.mode);
    }
    expect(rows.find((r) => r.path === "/srv/daedalus/.env")).toMatchObject({ owner: "daedalus", group: "daedalus", mode: "0600", secret: "secret" });
    // The header says the digests are fake, and which ones.
    expect(header.join("\n")).toContain("Image digests are FAKE");
    expect(Object.keys(result.digests).sort()).toEqual(["git.helu.ca/r/mnemosyne:latest", "neo4j:5", "nginx:alpine"]);
    for (const [image, digest] of Object.entries(result.digests)) {
      expect(digest).toBe(fakeDigest(image));
      expect(header).toContain(`# fake digest: ${image} -> ${digest}`);
    }
  });

  it("pins the compose images to the fake digests", () => {
    const mnemosyne = files.find((f) => f.path === "/opt/mnemosyne/docker-compose.yaml")!.content;
    expect(mnemosyne).toContain(`image: git.helu.ca/r/mnemosyne@${fakeDigest("git.helu.ca/r/mnemosyne:latest")}`);
    expect(mnemosyne).toContain(`image: nginx@${fakeDigest("nginx:alpine")}`);
    expect(files.find((f) => f.path === "/opt/neo4j-mnemosyne/docker-compose.yaml")!.content).toContain(`image: neo4j@${fakeDigest("neo4j:5")}`);
  });

  it("keeps secrets only as markers, only in files flagged secret with mode 0600", () => {
    const secretFiles = files.filter((f) => f.secret).map(key);
    expect(secretFiles).toEqual(["puck/opt/mnemosyne/.env", "puck/srv/daedalus/.env", "umbriel/opt/neo4j-mnemosyne/.env"]);
    for (const f of files) {
      const markers = f.content.match(SECRET_MARKER_PATTERN) ?? [];
      if (f.secret) {
        expect({ file: key(f), mode: f.mode, markers: markers.length > 0 }).toEqual({ file: key(f), mode: "0600", markers: true });
      } else {
        expect({ file: key(f), markers }).toEqual({ file: key(f), markers: [] });
      }
    }
  });

  it("has no secret value without a marker: every password, key and credential in a URL is a marker", () => {
    const secretName = /PASSWORD|SECRET|ENCRYPTION_KEY|PRIVATE_KEY|TOKEN/;
    const checked: string[] = [];
    for (const f of files.filter((x) => x.secret)) {
      for (const line of f.content.split("\n").filter((l) => l && !l.startsWith("#"))) {
        const m = /^([A-Z0-9_]+)='(.*)'$/.exec(line);
        expect(m, `${key(f)}: ${line}`).not.toBeNull();
        const [, name, value] = m!;
        if (secretName.test(name!)) {
          expect(value, `${key(f)} ${name}`).toMatch(/^SECRET__[A-Za-z0-9_-]+__$/);
          checked.push(`${f.host}:${name}`);
        }
        // user:password@ in a URL: the password part is a marker.
        for (const u of value!.matchAll(/:\/\/[^:/@]+:([^@]*)@/g)) {
          expect(u[1], `${key(f)} ${name}`).toMatch(/^SECRET__[A-Za-z0-9_-]+__$/);
          checked.push(`${f.host}:${name} (URL)`);
        }
      }
    }
    // Every credential of the apps' .env files and the Neo4j one was looked at.
    expect(checked.sort()).toEqual([
      "puck:APP_DB_PASSWORD",
      "puck:AWS_SECRET_ACCESS_KEY",
      "puck:CELERY_BROKER_URL (URL)",
      "puck:DAEDALUS_DATABASE_URL (URL)",
      "puck:DAEDALUS_S3_SECRET_ACCESS_KEY",
      "puck:DAEDALUS_S3_SECRET_KEY",
      "puck:LLM_API_SECRETS_ENCRYPTION_KEY",
      "puck:NEOMODEL_NEO4J_BOLT_URL (URL)",
      "puck:SECRET_KEY",
      "umbriel:NEO4J_PASSWORD",
    ]);
    // The markers are the stack's generated secrets and secret config keys, nothing else.
    const markers = [...new Set(files.flatMap((f) => f.content.match(SECRET_MARKER_PATTERN) ?? []))].sort();
    expect(markers).toEqual([
      "SECRET__daedalus-bucket-ro0-secret__",
      "SECRET__daedalus-bucket-rw-secret__",
      "SECRET__daedalus-db-password__",
      "SECRET__mnemosyne-bucket-rw-secret__",
      "SECRET__mnemosyne-db-password__",
      "SECRET__mnemosyne-llm-encryption-key__",
      "SECRET__mnemosyne-secret-key__",
      "SECRET__neo4j-password__",
      "SECRET__rabbitmq-password__",
    ]);
  });
});

describe("render of stack ouranos: determinism and the CLI", () => {
  it("renders the same bytes twice in one process; replaces a previous render only with clean", async () => {
    const again = path.join(tmp("fleet-render-again-"), "out");
    await renderStack("ouranos", again);
    expect(snapshot(again)).toEqual(snapshot(out));
    await expect(renderStack("ouranos", again)).rejects.toThrow(RenderUsageError);
    writeFileSync(path.join(again, "puck", "stale.txt"), "from an older render\n");
    await renderStack("ouranos", again, { clean: true });
    expect(snapshot(again)).toEqual(snapshot(out));
  });

  it("`npx tsx scripts/render.ts --stack ouranos --out DIR` writes the same bytes", () => {
    const cli = path.join(tmp("fleet-render-cli-"), "out");
    // With the probe of the usage test below, which must see Pulumi load when a render runs.
    const res = spawnSync("npx", ["tsx", "--import", PULUMI_PROBE, "scripts/render.ts", "--stack", "ouranos", "--out", cli], { cwd: ROOT, encoding: "utf8", timeout: HANG_LIMIT_MS });
    const loaded = res.stderr.split("\n").filter((l) => l.startsWith("loaded @pulumi/"));
    expect(loaded).toContain("loaded @pulumi/pulumi/index.js");
    expect({ status: res.status, stderr: res.stderr.split("\n").filter((l) => l !== "" && !loaded.includes(l)) }).toEqual({ status: 0, stderr: [] });
    expect(res.stdout).toContain(`rendered ${EXPECTED.length} files (3 secret, with markers) of stack "ouranos"`);
    expect(snapshot(cli)).toEqual(snapshot(out));
  });

  it("refuses bad arguments with the usage (exit 2), an unknown stack listing the known ones, a non-empty directory, without loading Pulumi", async () => {
    // Each run reports, as it exits, every module of @pulumi/* it loaded: a refused request
    // is answered from stacks/names.ts alone (loading Pulumi through tsx costs ≈ 2 CPU s a run).
    const run = async (...args: string[]) => {
      const r = await runProcess(path.join(ROOT, "node_modules/.bin/tsx"), ["--import", PULUMI_PROBE, "scripts/render.ts", ...args], { cwd: ROOT, timeoutMs: HANG_LIMIT_MS });
      return { status: r.code, stderr: r.stderr };
    };
    const busy = tmp("fleet-render-busy-");
    mkdirSync(path.join(busy, "keep"));
    writeFileSync(path.join(busy, "keep", "mine.txt"), "not a render\n");
    const [missing, bogus, unknown, refused] = await Promise.all([
      run("--stack", "ouranos"),
      run("--stack", "ouranos", "--out", tmp("fleet-render-x-"), "--frobnicate"),
      run("--stack", "nope", "--out", path.join(tmp("fleet-render-u-"), "out")),
      run("--stack", "ouranos", "--out", busy, "--clean"),
    ]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain("render: missing --out");
    expect(missing.stderr).toContain("usage: npm run render -- --stack <name> --out <dir>");
    expect(bogus.status).toBe(2);
    expect(bogus.stderr).toContain('render: unexpected argument "--frobnicate"');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('render: unknown stack "nope"; known stacks: daarion, menagerie, ouranos');
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain("holds no INDEX.tsv, so it is not a previous render; refusing to delete it");
    expect(readFileSync(path.join(busy, "keep", "mine.txt"), "utf8")).toBe("not a render\n");
    for (const r of [missing, bogus, unknown, refused]) expect(r.stderr).not.toContain("loaded @pulumi/");
  });
});
