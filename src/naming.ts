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

/** A file-name-safe slug for fragments: lowercase, digits, '-', '_' and '.'. */
export function fragmentName(name: string): string {
  if (!/^[a-z0-9][a-z0-9._-]{0,127}$/.test(name)) {
    throw new Error(`fragment name ${JSON.stringify(name)} must be lowercase letters, digits, '.', '_' or '-'`);
  }
  return name;
}

/** Identifiers derived from a slug for nginx zones, HAProxy backends and the like. */
export function configIdent(name: string): string {
  return name.replace(/[^a-z0-9_]/g, "_");
}
