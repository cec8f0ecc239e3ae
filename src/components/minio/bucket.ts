import * as minio from "@pulumi/minio";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { childName } from "../../naming";
import { transform } from "../../transform";
import { parseOrThrow } from "../../validation/errors";
import { bucketPolicy, type S3BucketArgs, s3BucketSchema } from "./args";

/** An access key pair; both halves are secrets. */
export interface S3Credentials {
  readonly accessKey: pulumi.Output<string>;
  readonly secretKey: pulumi.Output<string>;
}

interface UserNodes {
  readonly secret: random.RandomPassword;
  readonly user: minio.IamUser;
  readonly policy: minio.IamPolicy;
  readonly attachment: minio.IamUserPolicyAttachment;
}

/**
 * A private MinIO bucket with a read-write user and policy scoped to it, and
 * optional read-only users for other principals. Credentials are secret outputs.
 *
 * #### A bucket for an app, readable by another app's worker
 * ```ts
 * const files = new S3Bucket("daedalus", {
 *   provider: nyx.provider,
 *   bucket: "daedalus",
 *   readers: [{ user: "mnemosyne-daedalus-ro" }],
 * });
 * files.credentials.secretKey;                        // secret
 * files.readerCredentials["mnemosyne-daedalus-ro"];  // read-only pair
 * ```
 */
export class S3Bucket extends pulumi.ComponentResource {
  public readonly bucket: pulumi.Output<string>;
  /** Read-write credentials. */
  public readonly credentials: S3Credentials;
  /** Read-only credentials by user name. */
  public readonly readerCredentials: Readonly<Record<string, S3Credentials>>;
  public readonly nodes: { readonly bucket: minio.S3Bucket; readonly writer: UserNodes; readonly readers: Readonly<Record<string, UserNodes>> };

  constructor(name: string, args: S3BucketArgs, opts?: pulumi.ComponentResourceOptions) {
    const { provider, transform: hooks, ...rest } = args;
    const spec = parseOrThrow(`S3Bucket "${name}"`, s3BucketSchema, rest);
    super(S3Bucket.__pulumiType, name, {}, opts);
    const parent = this;

    const bucket = createBucket();
    const writer = createUser("rw", spec.writer ?? `${spec.bucket}-rw`, "readwrite");
    const readers: Record<string, UserNodes> = {};
    spec.readers.forEach((r, i) => {
      readers[r.user] = createUser(`ro${i}`, r.user, "readonly");
    });

    this.bucket = bucket.bucket;
    this.credentials = credentialsOf(writer);
    this.readerCredentials = Object.fromEntries(Object.entries(readers).map(([u, n]) => [u, credentialsOf(n)]));
    this.nodes = { bucket, writer, readers };
    this.registerOutputs({ bucket: this.bucket });

    function createBucket() {
      return new minio.S3Bucket(
        ...transform(
          hooks?.bucket,
          childName(name, "bucket"),
          { bucket: spec.bucket, acl: "private", forceDestroy: false },
          { parent, provider, protect: spec.protect },
        ),
      );
    }

    function createUser(role: string, userName: string, access: "readwrite" | "readonly"): UserNodes {
      const secret = new random.RandomPassword(
        ...transform(hooks?.secret, childName(name, `${role}-secret`), { length: spec.secretLength, special: false }, { parent }),
      );
      const user = new minio.IamUser(
        ...transform(
          hooks?.user,
          childName(name, `${role}-user`),
          { name: userName, secret: secret.result, forceDestroy: false, updateSecret: true },
          { parent, provider, additionalSecretOutputs: ["secret"] },
        ),
      );
      const policy = new minio.IamPolicy(
        ...transform(
          hooks?.policy,
          childName(name, `${role}-policy`),
          { name: `${userName}-${access === "readwrite" ? "rw" : "ro"}-${spec.bucket}`.slice(0, 128), policy: bucketPolicy(spec.bucket, access) },
          { parent, provider, dependsOn: [bucket] },
        ),
      );
      const attachment = new minio.IamUserPolicyAttachment(
        childName(name, `${role}-attach`),
        { userName: user.name, policyName: policy.name },
        { parent, provider },
      );
      return { secret, user, policy, attachment };
    }

    function credentialsOf(n: UserNodes): S3Credentials {
      return { accessKey: pulumi.secret(n.user.name), secretKey: pulumi.secret(n.secret.result) };
    }
  }

  static readonly __pulumiType = "fleet:minio:Bucket";
}
