import { describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import { RemoteTask, taskBody } from "../../src/components/task";
import { testHost } from "../helpers/hosts";
import { leaves, runProgram } from "../helpers/pulumi";
import { refused } from "../helpers/inputs";

describe("taskBody", () => {
  it("quotes argv, switches user and directory", () => {
    expect(taskBody({ argv: ["alembic", "upgrade", "head"], cwd: "/srv/daedalus/backend", user: "daedalus" })).toBe(
      "cd '/srv/daedalus/backend'\nrunuser -u 'daedalus' -- /bin/sh -c ''\\''alembic'\\'' '\\''upgrade'\\'' '\\''head'\\'''",
    );
  });
});

describe("RemoteTask", () => {
  it("runs on create and when triggers change", async () => {
    const run = await runProgram(() => {
      new RemoteTask("migrate", { host: testHost("puck"), argv: ["alembic", "upgrade", "head"], triggers: ["abc123"] });
    });
    const cmd = run.get("migrate-command");
    expect(cmd.parentName).toBe("migrate");
    expect(cmd.inputs.triggers).toEqual(["abc123"]);
    // The update is the create plus one guard: an update that changed nothing but the
    // connection (a re-addressed host) runs nothing (scripts.ts RunStamp).
    expect(String(cmd.inputs.update).replace(/\nif \[ -n "\$__run" \] && \[ "\$\(cat [^\n]*not run again'\\''; exit 0; fi/, "")).toBe(cmd.inputs.create);
    expect(String(cmd.inputs.stdin)).toMatch(/^[0-9a-f]{64}\n$/);
    expect(cmd.inputs.addPreviousOutputInEnv).toBe(false);
    expect(cmd.opts.ignoreChanges).toBeUndefined();
  });

  it("once + captureStdout: never re-run, stdout secret and unlogged", async () => {
    let task: RemoteTask | undefined;
    const run = await runProgram(() => {
      task = new RemoteTask("seed", { host: testHost("puck"), argv: ["python", "manage.py", "seed_signing_key"], once: true, captureStdout: true });
    });
    const cmd = run.get("seed-command");
    expect(cmd.opts.ignoreChanges).toEqual(["create", "update", "delete", "stdin", "triggers", "connection"]);
    expect(cmd.opts.additionalSecretOutputs).toEqual(expect.arrayContaining(["stdout", "stderr"]));
    expect(cmd.inputs.logging).toBe("none");
    expect(await pulumi.isSecret(task!.stdout)).toBe(true);
  });

  it("secrets reach the script on stdin only", async () => {
    const run = await runProgram(() => {
      new RemoteTask("svc-user", {
        host: testHost("puck"),
        script: 'manage ensure_service_user --password "$PW"',
        secretNames: ["PW"],
        secrets: { PW: pulumi.secret("s3cr3t-value") },
      });
    });
    const cmd = run.get("svc-user-command");
    const all = await leaves(cmd.props);
    for (const l of all.filter((x) => !x.secret)) expect(l.value, l.path).not.toContain("s3cr3t-value");
    expect(all.find((l) => l.path === "stdin")?.secret).toBe(true);
    const stdin = all.find((l) => l.path === "stdin")!.value;
    const [fingerprint, secret] = stdin.trim().split("\n");
    expect(fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(Buffer.from(secret!, "base64").toString()).toBe("s3cr3t-value");
  });

  it.each([
    [{ argv: [] }, "argv: must name a command"],
    [{ argv: ["echo", "a\nb"] }, "argv/1: must be one line without control characters (newlines, line separators, tabs, NUL, C1)"],
    [{ script: "true", argv: ["true"] }, "script: give exactly one of script or argv"],
    [{ script: "true", cwd: "/srv/$(id)" }, "cwd: must be an absolute path without spaces or shell metacharacters"],
    [{ script: "true", user: "root; id" }, "user: must be a Unix user name"],
    [{ script: "true", secretNames: ["lower"] }, "secretNames/0: must be an environment variable name"],
  ])("refuses %j", async (input, message) => {
    const r = await refused(() => new RemoteTask("bad", { host: testHost("puck"), ...input }));
    expect(r.run.resources).toEqual([]);
    expect(r.message).toContain(`RemoteTask "bad": ${message}`);
  });

  it("requires exactly the named secrets", async () => {
    const r = await refused(() => new RemoteTask("bad", { host: testHost("puck"), script: "true", secretNames: ["PW"] }));
    expect(r.run.resources).toEqual([]);
    expect(r.message).toContain('RemoteTask "bad": secrets: must provide exactly the secretNames (PW); got none');
  });
});
