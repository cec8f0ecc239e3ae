/**
 * Request limits of a route, the same three settings whichever gateway serves it
 * (nginx, HAProxy, Caddy): the largest request body and how long the proxy waits on
 * the upstream. Each renderer writes them in its daemon's own syntax
 * (`client_max_body_size`/`proxy_read_timeout`, `timeout server` and a 413 rule,
 * `request_body`/`transport http`). The defaults fit uploads: a 256 MiB body (above
 * Streamlit's 200 MB upload default; nginx's own default of 1 MiB refuses an ordinary
 * photo) and five minutes for an upstream that processes what it received before it answers.
 *
 * Plain data + zod; no Pulumi import.
 */
import { z } from "zod";

/** Default largest request body. */
export const DEFAULT_MAX_BODY_SIZE = "256m";
/** Default wait on the upstream (between two reads of its answer, two writes of the request). */
export const DEFAULT_UPSTREAM_TIMEOUT = "300s";

/**
 * A body size: a whole number of KiB (`k`), MiB (`m`) or GiB (`g`), or `0` for no limit.
 * @example "256m"
 */
export const bodySize = z
  .string()
  .regex(/^(0|[1-9]\d{0,5}[kmg])$/, { error: "must be a size such as 512k, 256m or 2g (KiB, MiB, GiB), or 0 for no limit" })
  .refine((v) => sizeBytes(v) <= 64 * 1024 ** 3, { error: "must be at most 64g" });

/**
 * A timeout: a whole number of seconds (`s`), minutes (`m`) or hours (`h`), at most 24h.
 * @example "300s"
 */
export const proxyTimeout = z
  .string()
  .regex(/^[1-9]\d{0,5}[smh]$/, { error: "must be a duration such as 60s, 5m or 1h" })
  .refine((v) => timeoutSeconds(v) <= 86400, { error: "must be at most 24h" });

export const routeLimitsSchema = z.strictObject({
  /**
   * Largest request body; a larger one is answered 413 before it reaches the app. `0`: no limit.
   * @default "256m"
   */
  maxBodySize: bodySize.default(DEFAULT_MAX_BODY_SIZE),
  /**
   * How long the proxy waits for the upstream's answer (between two reads).
   * @default "300s"
   */
  readTimeout: proxyTimeout.default(DEFAULT_UPSTREAM_TIMEOUT),
  /**
   * How long the proxy waits while sending the request to the upstream (between two writes).
   * @default "300s"
   */
  sendTimeout: proxyTimeout.default(DEFAULT_UPSTREAM_TIMEOUT),
});
export type RouteLimitsInput = z.input<typeof routeLimitsSchema>;
export type RouteLimits = z.output<typeof routeLimitsSchema>;

/** The limits when a route sets none. */
export const DEFAULT_ROUTE_LIMITS: RouteLimits = routeLimitsSchema.parse({});

/** Bytes of a {@link bodySize}. */
export function sizeBytes(size: string): number {
  if (size === "0") return 0;
  const n = Number(size.slice(0, -1));
  const unit = size.slice(-1);
  return n * (unit === "k" ? 1024 : unit === "m" ? 1024 ** 2 : 1024 ** 3);
}

/** Seconds of a {@link proxyTimeout}. */
export function timeoutSeconds(timeout: string): number {
  const n = Number(timeout.slice(0, -1));
  const unit = timeout.slice(-1);
  return n * (unit === "s" ? 1 : unit === "m" ? 60 : 3600);
}

/** A size as Caddy's `max_size` reads it: `256MiB` (binary units, as the value means). */
export function caddySize(size: string): string {
  const unit = size.slice(-1);
  return `${size.slice(0, -1)}${unit === "k" ? "KiB" : unit === "m" ? "MiB" : "GiB"}`;
}

/** Limits a single route sets over the defaults of its server (each one optional). */
export const routeLimitsOverrideSchema = z.strictObject({
  /** @default the server's */
  maxBodySize: bodySize.optional(),
  /** @default the server's */
  readTimeout: proxyTimeout.optional(),
  /** @default the server's */
  sendTimeout: proxyTimeout.optional(),
});
export type RouteLimitsOverride = z.output<typeof routeLimitsOverrideSchema>;

/** nginx directives of a route's limits (those given), in a fixed order. */
export function nginxLimitLines(limits: RouteLimitsOverride): string[] {
  return [
    ...(limits.maxBodySize !== undefined ? [`client_max_body_size ${limits.maxBodySize};`] : []),
    ...(limits.readTimeout !== undefined ? [`proxy_read_timeout ${limits.readTimeout};`] : []),
    ...(limits.sendTimeout !== undefined ? [`proxy_send_timeout ${limits.sendTimeout};`] : []),
  ];
}
