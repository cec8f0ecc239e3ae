/**
 * Arguments of HealthCheck. Plain data + zod.
 */
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { type CommandTransform } from "../../remote/command";
import { type Host } from "../../remote/host";
import { CONTROL, hostname, httpUrl, oneLine, port } from "../../validation/primitives";

export const healthCheckSchema = z
  .strictObject({
    /** URL requested from the checking host. @example "http://127.0.0.1:22181/api/health" */
    url: httpUrl,
    /** HTTP method. @default "GET" */
    method: z.enum(["GET", "HEAD"]).default("GET"),
    /** Status codes that count as healthy. @default [200] */
    expectStatus: z.array(z.number().int().min(100).max(599)).min(1).max(16).default([200]),
    /**
     * Extended regular expression (grep -E) the body must match.
     * @example '"status": ?"ok"'
     */
    bodyMatch: oneLine.optional(),
    /** Extra request headers, e.g. a Host header to test a virtual host through a proxy. */
    headers: z
      .record(
        z.string().regex(/^[A-Za-z0-9-]{1,64}$/, { error: "header names must be letters, digits and '-'" }),
        z.string().max(1024).refine((v) => !CONTROL.test(v), { error: "header values must be one line without control characters" }),
      )
      .default({}),
    /** Connect to this address for the URL's host:port (curl --resolve), e.g. to test a proxy by name. */
    resolve: z.strictObject({ host: hostname, port, address: hostname }).optional(),
    /** Basic-auth user; the password comes from the `password` secret arg. */
    basicAuthUser: z.string().regex(/^[A-Za-z0-9._@-]{1,128}$/, { error: "must be letters, digits and . _ @ -" }).optional(),
    /** Skip TLS verification (self-signed certificates). @default false */
    insecure: z.boolean().default(false),
    /** Attempts before giving up. @default 10 */
    attempts: z.number().int().min(1).max(60, { error: "must be at most 60: bound the wait" }).default(10),
    /** First delay between attempts in seconds; doubles each time. @default 1 */
    initialDelaySeconds: z.number().int().min(0).max(60).default(1),
    /** Cap on the delay between attempts. @default 15 */
    maxDelaySeconds: z.number().int().min(1).max(120).default(15),
    /** Per-request timeout. @default 10 */
    timeoutSeconds: z.number().int().min(1).max(120).default(10),
    /** What is being checked, for the failure message. */
    description: oneLine.optional(),
  });

export type HealthCheckSpecInput = z.input<typeof healthCheckSchema>;
export type HealthCheckSpec = z.output<typeof healthCheckSchema>;

export interface HealthCheckArgs extends HealthCheckSpecInput {
  /** The host the request is made from (e.g. Prospero to prove it can scrape). */
  host: Host;
  /** Basic-auth password (secret), with `basicAuthUser`. */
  password?: pulumi.Input<string>;
  /** Values whose change re-runs the check by replacing its command (the command plugin replaces on `triggers`). */
  triggers?: pulumi.Input<unknown>[];
  /**
   * Values whose change re-runs the check as an update of its command (what it verifies:
   * content hashes, the commit deployed). @default none @example [revision]
   */
  revision?: pulumi.Input<unknown>[];
  transform?: { command?: CommandTransform };
}
