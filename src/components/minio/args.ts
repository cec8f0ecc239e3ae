/**
 * Arguments of S3Bucket. Plain data + zod.
 */
import type * as minio from "@pulumi/minio";
import type * as random from "@pulumi/random";
import { z } from "zod";
import { isBucketName } from "../../naming";
import { type Transform } from "../../transform";

export const bucketName = z
  .string()
  .refine(isBucketName, {
    error: "must be an S3 bucket name: 3-63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit",
  });

/** MinIO user names double as access keys: 3-128 chars, no spaces or shell metacharacters. */
export const minioUserName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{2,127}$/, {
    error: "must be 3-128 characters of letters, digits, '.', '_' and '-', starting with a letter or digit",
  });

export const s3BucketSchema = z
  .strictObject({
    /** Bucket name. Changing it replaces the (protected) bucket. @example "daedalus" */
    bucket: bucketName,
    /** Read-write user (its name is the access key). @default "<bucket>-rw" */
    writer: minioUserName.optional(),
    /**
     * Read-only users for other principals, e.g. another app's worker reading this bucket.
     * @default []
     * @example [{ user: "mnemosyne-daedalus-ro" }]
     */
    readers: z.array(z.strictObject({ user: minioUserName })).max(32).default([]),
    /** Length of generated secret keys (MinIO allows 8-40). @default 40 */
    secretLength: z.number().int().min(8).max(40, { error: "must be at most 40 (MinIO's limit)" }).default(40),
    /** Protect the bucket from deletion. @default true */
    protect: z.boolean().default(true),
  })
  .superRefine((v, ctx) => {
    const users = [v.writer ?? `${v.bucket}-rw`, ...v.readers.map((r) => r.user)];
    const seen = new Set<string>();
    users.forEach((u, i) => {
      if (seen.has(u)) ctx.addIssue({ code: "custom", path: i === 0 ? ["writer"] : ["readers", i - 1, "user"], message: `duplicate user "${u}"` });
      seen.add(u);
    });
  });

export type S3BucketSpecInput = z.input<typeof s3BucketSchema>;
export type S3BucketSpec = z.output<typeof s3BucketSchema>;

export interface S3BucketArgs extends S3BucketSpecInput {
  /** The explicit MinIO provider (see `buildMinioServers`). */
  provider: minio.Provider;
  transform?: {
    bucket?: Transform<minio.S3BucketArgs>;
    secret?: Transform<random.RandomPasswordArgs>;
    user?: Transform<minio.IamUserArgs>;
    policy?: Transform<minio.IamPolicyArgs>;
  };
}

/** IAM policy JSON for a bucket; key order fixed so the text is deterministic. */
export function bucketPolicy(bucket: string, access: "readwrite" | "readonly"): string {
  const statements =
    access === "readwrite"
      ? [
          { Effect: "Allow", Action: ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"], Resource: [`arn:aws:s3:::${bucket}`] },
          {
            Effect: "Allow",
            Action: ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:PutObject"],
            Resource: [`arn:aws:s3:::${bucket}/*`],
          },
        ]
      : [
          { Effect: "Allow", Action: ["s3:GetBucketLocation", "s3:ListBucket"], Resource: [`arn:aws:s3:::${bucket}`] },
          { Effect: "Allow", Action: ["s3:GetObject"], Resource: [`arn:aws:s3:::${bucket}/*`] },
        ];
  return JSON.stringify({ Version: "2012-10-17", Statement: statements });
}
