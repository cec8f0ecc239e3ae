import * as minio from "@pulumi/minio";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { bucketPolicy, S3Bucket } from "../../src/components/minio";
import { mockPassword, runProgram, unwrap } from "../helpers/pulumi";
import { refused } from "../helpers/inputs";

function provider() {
  return new minio.Provider("nyx", { minioServer: "nyx.helu.ca:8555", minioUser: "root", minioPassword: "root-secret" });
}

describe("bucketPolicy", () => {
  it("scopes read-write to the bucket and its objects", () => {
    const p = JSON.parse(bucketPolicy("daedalus", "readwrite"));
    expect(p.Statement[0].Resource).toEqual(["arn:aws:s3:::daedalus"]);
    expect(p.Statement[1].Resource).toEqual(["arn:aws:s3:::daedalus/*"]);
    expect(p.Statement[1].Action).toContain("s3:PutObject");
  });
  it("gives read-only users no write or delete", () => {
    const text = bucketPolicy("daedalus", "readonly");
    expect(text).not.toMatch(/Put|Delete|Abort/);
    expect(JSON.parse(text).Statement[1].Action).toEqual(["s3:GetObject"]);
  });
});

describe("S3Bucket", () => {
  it("creates a protected private bucket, a read-write user with a scoped policy and read-only users", async () => {
    let b: S3Bucket | undefined;
    const run = await runProgram(() => {
      b = new S3Bucket("daedalus", { provider: provider(), bucket: "daedalus", readers: [{ user: "mnemosyne-daedalus-ro" }] });
    });
    expect(run.names()).toEqual([
      "nyx",
      "daedalus",
      "daedalus-bucket",
      "daedalus-rw-secret",
      "daedalus-rw-user",
      "daedalus-rw-policy",
      "daedalus-rw-attach",
      "daedalus-ro0-secret",
      "daedalus-ro0-user",
      "daedalus-ro0-policy",
      "daedalus-ro0-attach",
    ]);
    expect(run.get("daedalus-bucket").inputs).toMatchObject({ bucket: "daedalus", acl: "private", forceDestroy: false });
    expect(run.get("daedalus-bucket").opts.protect).toBe(true);
    expect(run.get("daedalus-rw-user").inputs.name).toBe("daedalus-rw");
    expect(run.get("daedalus-ro0-user").inputs.name).toBe("mnemosyne-daedalus-ro");
    expect(JSON.parse(String(run.get("daedalus-ro0-policy").inputs.policy))).toEqual(JSON.parse(bucketPolicy("daedalus", "readonly")));
    expect(run.get("daedalus-rw-attach").inputs).toMatchObject({ userName: "daedalus-rw", policyName: "daedalus-rw-rw-daedalus" });
    for (const r of run.resources.filter((x) => x.type.startsWith("minio:"))) expect(r.opts.provider, r.name).toBeDefined();
    expect(await pulumi.isSecret(b!.credentials.secretKey)).toBe(true);
    expect(await pulumi.isSecret(b!.credentials.accessKey)).toBe(true);
    const ro = b!.readerCredentials["mnemosyne-daedalus-ro"]!;
    expect(await unwrap(ro.accessKey)).toBe("mnemosyne-daedalus-ro");
    expect(await unwrap(ro.secretKey)).toBe(mockPassword("daedalus-ro0-secret"));
  });

  it.each([
    [{ bucket: "Daedalus" }, "bucket: must be an S3 bucket name"],
    [{ bucket: "a" }, "bucket: must be an S3 bucket name"],
    [{ bucket: "x'; rm -rf / #" }, "bucket: must be an S3 bucket name"],
    [{ bucket: "ok-bucket", writer: "a b" }, "writer: must be 3-128 characters"],
    [{ bucket: "ok-bucket", readers: [{ user: "$(id)" }] }, "readers/0/user: must be 3-128 characters"],
    [{ bucket: "ok-bucket", readers: [{ user: "ok-bucket-rw" }] }, 'readers/0/user: duplicate user "ok-bucket-rw"'],
    [{ bucket: "ok-bucket", secretLength: 64 }, "secretLength: must be at most 40 (MinIO's limit)"],
  ])("refuses %j before registering anything", async (input, message) => {
    const r = await refused(() => new S3Bucket("bad", { provider: undefined as unknown as minio.Provider, ...(input) }));
    expect(r.run.resources).toEqual([]);
    expect(r.message).toContain(`S3Bucket "bad": ${message}`);
  });
});
