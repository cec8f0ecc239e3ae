/**
 * The health-check script: bounded retries with exponential backoff, and a failure
 * message that says what was expected and what came back. Pure.
 */
import { sh } from "../../remote/quote";
import { type HealthCheckSpec } from "./args";

export function healthCheckScript(spec: HealthCheckSpec): string {
  const curl = [
    "curl",
    "-sS",
    "-o",
    '"$body"',
    "-w",
    sh("%{http_code}"),
    "--max-time",
    String(spec.timeoutSeconds),
    "-X",
    spec.method,
    ...(spec.method === "HEAD" ? ["-I"] : []),
    ...(spec.insecure ? ["-k"] : []),
    ...(spec.resolve ? ["--resolve", sh(`${spec.resolve.host}:${spec.resolve.port}:${spec.resolve.address}`)] : []),
    ...Object.keys(spec.headers)
      .sort()
      .flatMap((k) => ["-H", sh(`${k}: ${spec.headers[k]}`)]),
    ...(spec.basicAuthUser ? ["-K", '"$auth"'] : []),
    sh(spec.url),
  ].join(" ");
  const accepted = spec.expectStatus.map(String).join("|");
  const expected =
    `status ${spec.expectStatus.join(" or ")}` + (spec.bodyMatch ? ` and a body matching /${spec.bodyMatch}/` : "");
  const what = spec.description ? `${spec.description} (${spec.url})` : spec.url;
  const lines = [
    `body=$(mktemp); err=$(mktemp); auth=$(mktemp)`,
    `trap 'rm -f "$body" "$err" "$auth"' EXIT`,
    ...(spec.basicAuthUser
      ? [
          // curl reads the credentials from a 0600 file, never from its argv (visible in ps).
          // curl's config syntax: backslash and double quote are escaped inside "...".
          `esc=$(printf '%s' "$PASSWORD" | sed 's/[\\\\"]/\\\\&/g')`,
          `printf 'user = "%s:%s"\\n' ${sh(spec.basicAuthUser)} "$esc" > "$auth"`,
        ]
      : []),
    `attempt=1; delay=${spec.initialDelaySeconds}`,
    `while :; do`,
    `  status=$(${curl} 2>"$err") || true`,
    `  [ -n "$status" ] || status=000`,
    `  case "$status" in`,
    `    ${accepted})`,
    spec.bodyMatch
      ? `      if grep -Eq -- ${sh(spec.bodyMatch)} "$body"; then echo ${sh(`fleet: healthy: ${what}`)}" answered $status"; exit 0; fi ;;`
      : `      echo ${sh(`fleet: healthy: ${what}`)}" answered $status"; exit 0 ;;`,
    `  esac`,
    `  if [ "$attempt" -ge ${spec.attempts} ]; then`,
    `    got=$(head -c 300 "$body" | tr '\\n' ' ')`,
    `    cerr=$(head -c 300 "$err" | tr '\\n' ' ')`,
    `    echo ${sh(`fleet: health check failed for ${what} after ${spec.attempts} attempt(s): expected ${expected}; got status `)}"$status"${sh(" and body: ")}"$got"\${cerr:+" (curl: $cerr)"} >&2`,
    `    exit 1`,
    `  fi`,
    `  sleep "$delay"`,
    `  delay=$((delay * 2)); if [ "$delay" -gt ${spec.maxDelaySeconds} ]; then delay=${spec.maxDelaySeconds}; fi`,
    `  attempt=$((attempt + 1))`,
    `done`,
  ];
  return lines.join("\n");
}

/**
 * The compose label of a service whose health is probed from the host, never inside
 * its image (no curl or wget assumed there): `com.daarion.health=host:<path>`, the
 * path asked through the service's address or the published port. `npm run
 * check-node` accepts it in place of a healthcheck; the name is DAARION's, where the
 * label began, and every stack's compose file uses this one.
 */
export const HOST_PROBE_LABEL = "com.daarion.health";

/** `com.daarion.health=host:<path>` (see {@link HOST_PROBE_LABEL}). */
export function hostProbeLabel(path: string): string {
  return `${HOST_PROBE_LABEL}=host:${path}`;
}
