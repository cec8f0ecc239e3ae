/**
 * The one builder of URLs that carry credentials (PostgreSQL, AMQP, bolt): user,
 * password and path are percent-encoded, so a generated or configured password with
 * `@`, `:`, `/`, `%` or `#` reaches the client library intact. Pure.
 */

export interface CredentialUrl {
  /** `postgresql`, `postgresql+asyncpg`, `amqp`, `bolt`, … */
  readonly scheme: string;
  readonly user: string;
  readonly password: string;
  /** A DNS name or an IP address (an IPv6 address is bracketed here). */
  readonly host: string;
  readonly port: number;
  /** The database or the vhost, percent-encoded as one segment (`/` becomes `%2F`). Omitted: no path. */
  readonly path?: string;
}

/** `scheme://user:password@host:port[/path]`, user, password and path percent-encoded. */
export function credentialUrl(u: CredentialUrl): string {
  const host = u.host.includes(":") ? `[${u.host}]` : u.host;
  const path = u.path !== undefined ? `/${encodeURIComponent(u.path)}` : "";
  return `${u.scheme}://${encodeURIComponent(u.user)}:${encodeURIComponent(u.password)}@${host}:${u.port}${path}`;
}
