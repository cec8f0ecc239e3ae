export * from "./args";
export { S3Bucket, type S3Credentials } from "./bucket";
