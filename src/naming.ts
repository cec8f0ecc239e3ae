/**
 * Physical names: PostgreSQL identifiers, MinIO buckets, file and unit names. One
 * place enforces the limits, so a long stack or app name fails at validation, not
 * halfway through an `up`.
 */

/** The child's logical (Pulumi) name: `${parent}-${role}`. */
export function childName(parent: string, role: string): string {
  return `${parent}-${role}`;
}

/** S3 bucket names: 3-63 chars of a-z, 0-9, '.', '-', starting and ending alphanumeric. */
export function isBucketName(name: string): boolean {
  return (
    name.length >= 3 &&
    name.length <= 63 &&
    /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name) &&
    !name.includes("..") &&
    !/^\d+\.\d+\.\d+\.\d+$/.test(name)
  );
}
