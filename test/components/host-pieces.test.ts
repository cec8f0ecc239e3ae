/**
 * Scripts of the small host-side components, run for real: Casdoor against a fake
 * Casdoor API on loopback, rabbitmqctl through a recording stand-in, the certificate
 * check against `openssl s_server` with generated certificates.
 */
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { casdoorApplicationSchema, casdoorApplicationScript, CasdoorApplication } from "../../src/components/casdoor";
import { certificateCheckSchema, certificateCheckScript } from "../../src/components/health";
import { directoriesScript, directorySchema, SystemUser } from "../../src/components/host";
import { rabbitmqVhostSchema, rabbitmqVhostScript } from "../../src/components/rabbitmq";
import { taskScript, taskStdin } from "../../src/remote/scripts";
import { testHost } from "../helpers/hosts";
import { leaves, runProgram } from "../helpers/pulumi";
import { refused } from "../helpers/inputs";
import { runShell } from "../helpers/spawn";

function runTask(body: string, secrets: Record<string, string> = {}, env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  const names = Object.keys(secrets);
  const script = taskScript({ body, secretNames: names }, { lockDir: tmpdir(), sudo: false });
  return runShell(script, { input: names.length ? taskStdin(Object.values(secrets)) : "", env });
}

describe("CasdoorApplication script against a fake Casdoor API", () => {
  let server: Server;
  let endpoint: string;
  const apps = new Map<string, Record<string, unknown>>();
  const seenAuth: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      seenAuth.push(req.headers.authorization ?? "");
      const url = new URL(req.url ?? "/", "http://x");
      if (req.headers.authorization !== `Basic ${Buffer.from("admin-id:admin-secret").toString("base64")}`) {
        res.writeHead(401);
        return res.end('{"status":"error","msg":"unauthorized"}');
      }
      if (url.pathname === "/api/get-application") {
        const app = apps.get(url.searchParams.get("id") ?? "");
        res.writeHead(200);
        return res.end(JSON.stringify({ status: "ok", msg: "", data: app ?? null }));
      }
      if (url.pathname === "/api/add-application") {
        let body = "";
        req.on("data", (c: Buffer) => (body += c.toString()));
        req.on("end", () => {
          const app = JSON.parse(body) as { owner: string; name: string };
          apps.set(`${app.owner}/${app.name}`, { ...app, clientId: "generated" });
          res.writeHead(200);
          res.end('{"status":"ok","msg":"","data":"Affected"}');
        });
        return;
      }
      res.writeHead(404);
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const spec = () =>
    casdoorApplicationSchema.parse({
      endpoint,
      name: "daedalus",
      displayName: "Daedalus",
      organization: "helu",
      redirectUris: ["https://daedalus.ouranos.helu.ca/callback"],
      homepageUrl: "https://daedalus.ouranos.helu.ca/",
    });
  const creds = { CASDOOR_CLIENT_ID: "admin-id", CASDOOR_CLIENT_SECRET: "admin-secret" };

  it("creates the application when absent, then finds it on the next run (idempotent)", async () => {
    const first = await runTask(casdoorApplicationScript(spec()), creds);
    expect(first.stderr).toBe("");
    expect(first.stdout).toContain("created Casdoor application admin/daedalus");
    expect(apps.get("admin/daedalus")).toMatchObject({ organization: "helu", redirectUris: ["https://daedalus.ouranos.helu.ca/callback"] });
    const second = await runTask(casdoorApplicationScript(spec()), creds);
    expect(second.stdout).toContain("already exists");
    expect(apps.size).toBe(1);
  });

  it("reports drift: an existing application without our redirect URI", async () => {
    apps.set("admin/other", { owner: "admin", name: "other", redirectUris: ["https://elsewhere/cb"] });
    const r = await runTask(casdoorApplicationScript({ ...spec(), name: "other" }), creds);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("exists but lacks redirect URI https://daedalus.ouranos.helu.ca/callback");
  });

  it("fails clearly with wrong admin credentials", async () => {
    const r = await runTask(casdoorApplicationScript(spec()), { CASDOOR_CLIENT_ID: "x", CASDOOR_CLIENT_SECRET: "y" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Casdoor get-application failed");
  });

  it("keeps admin credentials out of the command and marks stdin secret", async () => {
    const run = await runProgram(() => {
      new CasdoorApplication("sso", { host: testHost("titania"), ...spec(), clientId: "admin-id", clientSecret: "admin-secret" });
    });
    const cmd = run.get("sso-apply");
    const all = await leaves(cmd.props);
    for (const l of all.filter((x) => !x.secret)) expect(l.value, l.path).not.toMatch(/admin-secret/);
    expect(all.find((l) => l.path === "stdin")?.secret).toBe(true);
  });
});

describe("RabbitMQVhost script with a recording rabbitmqctl", () => {
  it("adds vhost and user (password on stdin) then sets permissions; changes the password on re-run", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "fleet-rmq-"));
    const log = path.join(dir, "log");
    const fake = path.join(dir, "rabbitmqctl");
    writeFileSync(
      fake,
      `#!/bin/sh\nstate=${dir}/state\ntouch "$state"\ncase "$*" in\n` +
        `  "-q list_vhosts name") grep '^vhost ' "$state" | cut -d' ' -f2 ;;\n` +
        `  "-q list_users name") grep '^user ' "$state" | cut -d' ' -f2 ;;\n` +
        `  add_vhost*) echo "vhost $2" >> "$state"; echo "$*" >> ${log} ;;\n` +
        `  add_user*|change_password*) pw=$(cat); echo "user $2" >> "$state"; echo "$* stdin=$pw" >> ${log} ;;\n` +
        `  *) echo "$*" >> ${log} ;;\nesac\n`,
    );
    chmodSync(fake, 0o755);
    const body = rabbitmqVhostScript(rabbitmqVhostSchema.parse({ vhost: "mnemosyne", user: "mnemosyne" }));
    expect(body).not.toContain("pw0rd");
    const env = { ...process.env, PATH: `${dir}:${process.env.PATH ?? ""}` };
    expect((await runTask(body, { RABBITMQ_PASSWORD: "pw0rd @:/" }, env)).code).toBe(0);
    expect((await runTask(body, { RABBITMQ_PASSWORD: "new pw" }, env)).code).toBe(0);
    expect(readFileSync(log, "utf8").split("\n").filter(Boolean)).toEqual([
      "add_vhost mnemosyne",
      "add_user mnemosyne stdin=pw0rd @:/",
      "set_permissions -p mnemosyne mnemosyne .* .* .*",
      "change_password mnemosyne stdin=new pw",
      "set_permissions -p mnemosyne mnemosyne .* .* .*",
    ]);
  });
});

describe("CertificateCheck script against openssl s_server", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "fleet-cert-"));
  function serve(sans: string, days: number): Promise<{ port: number; stop: () => void }> {
    const key = path.join(dir, `${days}-${sans.length}.key`);
    const crt = path.join(dir, `${days}-${sans.length}.crt`);
    // A P-256 key: milliseconds, where an RSA 2048 keygen takes half a CPU second; the check reads only names and dates.
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", crt, "-days", String(days), "-subj", "/CN=test", "-addext", `subjectAltName=${sans}`], { stdio: "ignore" });
    const port = 20000 + Math.floor(Math.random() * 20000);
    const child = spawn("openssl", ["s_server", "-accept", `127.0.0.1:${port}`, "-cert", crt, "-key", key, "-www", "-quiet"], { stdio: "ignore" });
    return new Promise((resolve) => setTimeout(() => resolve({ port, stop: () => child.kill() }), 400));
  }

  it("passes for a wildcard that covers the name, fails naming what it covers otherwise", async () => {
    const s = await serve("DNS:*.ouranos.helu.ca", 90);
    try {
      const ok = await runTask(certificateCheckScript(certificateCheckSchema.parse({ domains: ["daedalus.ouranos.helu.ca"], port: s.port })));
      expect(ok.stdout).toContain("certificate covers daedalus.ouranos.helu.ca");
      expect(ok.code).toBe(0);
      const bad = await runTask(certificateCheckScript(certificateCheckSchema.parse({ domains: ["daedalus.example.org"], port: s.port })));
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain("the certificate served for daedalus.example.org does not cover it");
      expect(bad.stderr).toContain("*.ouranos.helu.ca");
    } finally {
      s.stop();
    }
  });

  it("fails when the certificate expires within minValidDays", async () => {
    const s = await serve("DNS:daedalus.ouranos.helu.ca", 3);
    try {
      const r = await runTask(certificateCheckScript(certificateCheckSchema.parse({ domains: ["daedalus.ouranos.helu.ca"], port: s.port, minValidDays: 7 })));
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("expires within 7 days");
    } finally {
      s.stop();
    }
  });
});

describe("Directories and SystemUser", () => {
  it("installs directories with owner and mode (run for real)", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "fleet-dirs-"));
    const d = [directorySchema.parse({ path: `${dir}/srv/app`, mode: "0750" }), directorySchema.parse({ path: `${dir}/srv/app/venv` })];
    expect((await runTask(directoriesScript(d))).code).toBe(0);
    expect((statSync(`${dir}/srv/app`).mode & 0o777).toString(8)).toBe("750");
    expect((statSync(`${dir}/srv/app/venv`).mode & 0o777).toString(8)).toBe("755");
  });

  it("refuses hostile user names", async () => {
    const r = await refused(() => new SystemUser("u", { host: testHost("puck"), name: "root; id", home: "/srv/x" }));
    expect(r.run.resources).toEqual([]);
    expect(r.message).toContain("SystemUser \"u\": name: must start with a lowercase letter or '_' and contain only a-z, 0-9, '_' and '-'");
  });
});
