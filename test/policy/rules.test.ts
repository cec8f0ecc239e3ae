/**
 * The policy rules (policy/rules.ts) as plain functions: each stack of the registry, built
 * under mocks from its own stack file (as `npm run render` builds it), breaks none of
 * them, ouranos included (it cannot be previewed for real here: no minio plugin); and
 * each rule's edges. test/cli/policy.test.ts runs the same rules through the real engine.
 */
import { describe, expect, it } from "vitest";
import {
  daarionPorts,
  managedPath,
  plainSecrets,
  publicMetrics,
  type ResourceView,
  secretLooking,
  unpinnedHostKeys,
  unpinnedImages,
  unprotectedState,
} from "../../policy/rules";
import { renderGit, knownStacks, renderRunOptions, stackDefinition } from "../../stacks/render";
import { leaves, type RecordedResource, runProgram, unwrap } from "../../src/testing/mocks";

/** The URN the engine would give a recorded resource: its parents' types, then its own. */
function urnOf(r: RecordedResource, all: readonly RecordedResource[]): string {
  const types = [r.type];
  let parent = r.parentName;
  for (let guard = 0; parent !== undefined && guard < 20; guard++) {
    const p = all.find((x) => !x.custom && x.name === parent);
    if (!p) break;
    types.unshift(p.type);
    parent = p.parentName;
  }
  return `urn:pulumi:stack::fleet::${types.join("$")}::${r.name}`;
}

const view = async (r: RecordedResource, all: readonly RecordedResource[]): Promise<ResourceView> => ({
  type: r.type,
  urn: urnOf(r, all),
  props: (await unwrap(r.props ?? {})) as Record<string, unknown>,
  protect: r.opts.protect === true,
  stackTags: new Map(),
});

describe.each(knownStacks())("stack %s under mocks", (stack) => {
  it("breaks no rule of the policy pack", async () => {
    const run = await runProgram(() => stackDefinition(stack).program(renderGit), renderRunOptions(stack));
    const views = await Promise.all(run.resources.filter((r) => r.custom).map((r) => view(r, run.resources)));
    const findings = views.flatMap((v) => [...unpinnedHostKeys(v), ...unpinnedImages(v), ...unprotectedState(v), ...publicMetrics(v), ...daarionPorts(v)].map((m) => `${v.urn}: ${m}`));
    // Secret-looking strings outside a secret Output, judged as the pack judges them.
    for (const r of run.resources) {
      for (const l of await leaves(r.props ?? {})) {
        const name = l.path.split(/[.[\]]/).filter(Boolean).pop() ?? "";
        const why = l.secret ? undefined : secretLooking(name, l.value);
        if (why) findings.push(`${r.type}::${r.name} ${l.path}: ${why}`);
      }
    }
    expect(findings).toEqual([]);
    // Not vacuous: the rules saw what they judge.
    expect(views.filter((v) => v.props.connection !== undefined).length).toBeGreaterThan(10);
    expect(views.filter((v) => managedPath(v) !== undefined).length).toBeGreaterThan(5);
  });
});

const base: Omit<ResourceView, "props"> = { type: "command:remote:Command", urn: "urn:pulumi:s::p::command:remote:Command::f", protect: false, stackTags: new Map() };
const put = (path: string, content: string): ResourceView => ({ ...base, props: { create: `'/usr/local/lib/fleet/h' put '${path}' --owner 'root:root' --mode '0644'`, stdin: content } });

describe("rule edges", () => {
  it.each([
    ["DB_PASSWORD", "hunter2-x", "its name says it is a secret (DB_PASSWORD)"],
    ["privateKey", "k", "its name says it is a secret (privateKey)"],
    ["stdin", "-----BEGIN OPENSSH PRIVATE KEY-----\nAAA\n", "it holds a PEM private key"],
    ["stdin", "DATABASE_URL=postgres://app:Zx9pw@db:5432/app\n", "it holds a URL with a password (scheme://user:password@)"],
    ["stdin", "export API_TOKEN='abc123'\n", "it sets API_TOKEN to a literal value"],
    ["stdin", "      POSTGRES_PASSWORD: hunter2\n", "it sets POSTGRES_PASSWORD to a literal value"],
  ])("%s=%j is secret-looking", (name, value, why) => {
    expect(secretLooking(name, value)).toBe(why);
  });

  it.each([
    ["POSTGRES_PASSWORD", "${POSTGRES_PASSWORD}"],
    ["stdin", "POSTGRES_PASSWORD='CHANGE_ME'\nDATABASE_URL='postgresql://postgres:CHANGE_ME@postgres:5432/db'\n"],
    ["stdin", '      POSTGRES_PASSWORD: "${POSTGRES_PASSWORD}"\n'],
    ["create", "psql -c 'select 1'"],
    ["tokenFile", "/run/secrets/token"],
  ])("%s=%j is not", (name, value) => {
    // tokenFile names a path, not a secret: the name rule matches names ending in the word.
    expect(secretLooking(name, value)).toBeUndefined();
  });

  it("plainSecrets stops at a secret marker and names the path, never the value", () => {
    const marker = { secret: "DB_PASSWORD=hunter2-x\n" };
    const isSecret = (v: unknown) => v === marker;
    expect(plainSecrets({ stdin: marker, environment: { PGPASSWORD: "hunter2-x" } }, isSecret)).toEqual([
      "environment.PGPASSWORD looks like a secret (its name says it is a secret (PGPASSWORD)) but is a plain input: pass it as a secret Output (pulumi.secret, config.requireSecret), e.g. on stdin",
    ]);
  });

  it("host keys: a test-tagged stack may skip them, nothing else may", () => {
    const r: ResourceView = { ...base, props: { connection: { host: "h", user: "root" } } };
    expect(unpinnedHostKeys(r)).toHaveLength(1);
    expect(unpinnedHostKeys({ ...r, stackTags: new Map([["fleet:environment", "test"]]) })).toEqual([]);
    expect(unpinnedHostKeys({ ...r, stackTags: new Map([["fleet:environment", "production"]]) })).toHaveLength(1);
  });

  it("metrics: HAProxy backend without the deny, use_backend on /metrics, Caddy handle /metrics*", () => {
    expect(publicMetrics(put("/etc/haproxy/conf.d/none.cfg", 'backend none\n    http-request return status 503 string "no route"\n'))).toEqual([]);
    expect(publicMetrics(put("/etc/haproxy/conf.d/a.cfg", "backend a\n    server s 10.0.0.1:80\n"))).toEqual([
      "/etc/haproxy/conf.d/a.cfg: backend a is served from the public frontends and does not deny /metrics (http-request deny … path,url_dec … /metrics)",
    ]);
    expect(publicMetrics(put("/etc/haproxy/haproxy.cfg", "frontend f\n    bind :80\n    use_backend prom if { path_beg /metrics }\n"))).toEqual(["/etc/haproxy/haproxy.cfg: routes /metrics (use_backend prom if { path_beg /metrics })"]);
    expect(publicMetrics(put("/etc/caddy/routes/a.caddy", "handle /metrics* {\n\treverse_proxy app:9100\n}\n"))).toHaveLength(1);
    expect(publicMetrics(put("/etc/caddy/routes/a.caddy", "handle /metrics* {\n\trespond 404\n}\n"))).toEqual([]);
    // nginx listening on loopback only is not a public frontend.
    expect(publicMetrics(put("/etc/nginx/conf.d/a.conf", "server {\n    listen 127.0.0.1:9000;\n    location /metrics { proxy_pass http://x; }\n}\n"))).toEqual([]);
  });

  it("images: a built service is its pinned checkout; a service with neither image nor build is refused", () => {
    expect(unpinnedImages(put("/opt/a/compose.yml", "services:\n  a:\n    build: .\n  b:\n    command: x\n"))).toEqual(["/opt/a/compose.yml: service b has neither an image nor a build"]);
  });

  it("state: every stateful type unprotected is refused, protected passes", () => {
    const db: ResourceView = { ...base, type: "minio:index/s3Bucket:S3Bucket", props: {} };
    expect(unprotectedState(db)).toHaveLength(1);
    expect(unprotectedState({ ...db, protect: true })).toEqual([]);
    // A bucket user's secret is rotated in place (IamUser updateSecret); any other generated secret is not.
    const pw = (parent: string): ResourceView => ({ ...base, type: "random:index/randomPassword:RandomPassword", urn: `urn:pulumi:s::p::fleet:stack:Ouranos$${parent}$random:index/randomPassword:RandomPassword::x`, props: {} });
    expect(unprotectedState(pw("fleet:minio:Bucket"))).toEqual([]);
    expect(unprotectedState(pw("fleet:app:Deployment"))).toHaveLength(1);
  });
});
