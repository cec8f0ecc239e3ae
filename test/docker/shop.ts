/**
 * The "shop" compose project both ComposeStack suites deploy (compose.test.ts runs the
 * component's scripts over SSH, compose.engine.test.ts through the real engine): two
 * busybox stand-ins that answer /healthz and show the env variable they were started with.
 */
import { REGISTRY } from "../e2e/harness";
import { type StandIn } from "./images";

export const PROJECT = "shop";
export const DIR = "/opt/shop";
export const WEB = `${REGISTRY}/fleet/web:stable`;
export const API = `${REGISTRY}/fleet/api:stable`;
export const WEB_PORT = 18081;
export const API_PORT = 18082;

/** Both services answer /healthz and show what they were started with. */
export const COMPOSE = `services:
  web:
    image: ${WEB}
    environment:
      GREETING: \${GREETING}
    ports: ["127.0.0.1:${WEB_PORT}:8080"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/healthz"]
      interval: 1s
      timeout: 2s
      retries: 3
    volumes: ["data:/data"]
  api:
    image: ${API}
    environment:
      API_TOKEN: \${API_TOKEN:?API_TOKEN is required}
    ports: ["127.0.0.1:${API_PORT}:8080"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/healthz"]
      interval: 1s
      timeout: 2s
      retries: 3
    volumes: ["data:/data"]
volumes:
  data: {}
`;

/** A stand-in that writes one env variable into its web root, then serves it. */
export function standIn(version: string, variable: string, healthy = true): StandIn {
  const start = `echo "${version} starting"; mkdir -p /www; echo "$${variable}" > /www/env; echo ${version} > /www/version; exec httpd -f -v -p 8080 -h /www`;
  return {
    files: healthy ? { "/www/healthz": "ok\n" } : { "/www/index.html": "no health here\n" },
    cmd: ["/bin/sh", "-c", healthy ? start : `echo "${version} starting: this build lost its health endpoint"; ${start}`],
  };
}
