/**
 * Spellings of a denied path (`/metrics`) a client can send, shared by the HAProxy
 * test on loopback and the end-to-end test through HAProxy to nginx. nginx decodes
 * `%XX`, merges slashes and resolves dot segments before it matches a location, so
 * each of these either reaches nginx's `/metrics` location or is refused by nginx
 * itself; a route that denies `/metrics` must refuse every one.
 */
export const METRICS_SPELLINGS = [
  "/metrics",
  "/metrics/",
  "/metrics?x",
  "/metrics?",
  "/metrics;x",
  "/metrics/x",
  "/%6detrics",
  "/%6Detrics",
  "/%6D%65%74%72%69%63%73",
  "//metrics",
  "///metrics/",
  "/./metrics",
  "/.//./metrics",
  "/%2e/metrics",
  "/%2E/metrics",
  "/%2fmetrics",
  "/%2F%2Fmetrics",
  "/x/../metrics",
  "/x/%2e%2e/metrics",
  "/x%2f..%2fmetrics",
  "/%2e%2e/metrics",
  "/METRICS",
  "/Metrics/x",
  "/metrics%",
  "/%zzmetrics",
  "/%00/metrics",
] as const;

/** Paths next to the denied one that must still reach the backend. */
export const METRICS_NEIGHBOURS = ["/", "/api/health", "/metricsx", "/api/metrics", "/.metrics", "/x/metrics", "/%256detrics", "/ok%20x"] as const;
