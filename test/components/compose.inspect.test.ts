/**
 * What a compose file publishes and which external networks it needs (issue 13 items 4
 * and 5), and the lines `up` runs to create a missing external network, run by the real
 * sh against a `docker` stand-in that records its calls.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { externalNetworks, interpolateKnown, projectNames, publishedPorts } from "../../src/components/compose/inspect";
import { networkLines } from "../../src/components/compose/scripts";
import { runProcessSync } from "../helpers/spawn";

const COMPOSE = `services:
  app:
    image: app
    ports:
      - "8506:8501"
      - "127.0.0.1:9100:9100/tcp"
      - 8080
      - "9000"
      - "\${APP_PORT:-7000}:80"
      - "\${UNKNOWN}:81"
      - "[::1]:7443:443"
      - "6000-6002:6000-6002"
  web:
    image: web
    ports:
      - target: 80
        published: "8443"
        host_ip: 0.0.0.0
      - target: 81
networks:
  default: {}
  shared:
    external: true
    name: cf-shared
  proxy:
    external: true
  legacy:
    external:
      name: old-net
  templated:
    external: true
    name: "\${NET_NAME}"
`;

describe("publishedPorts", () => {
  it("reads short and long syntax, addresses and ranges; a container port alone or an unknown variable publishes nothing known", () => {
    const ports = publishedPorts(COMPOSE, {}).map((p) => [p.service, p.from, p.to, p.hostIp ?? ""]);
    expect(ports).toEqual([
      ["app", 8506, 8506, ""],
      ["app", 9100, 9100, "127.0.0.1"],
      ["app", 7000, 7000, ""],
      ["app", 7443, 7443, "::1"],
      ["app", 6000, 6002, ""],
      ["web", 8443, 8443, "0.0.0.0"],
    ]);
  });

  it("interpolates with the env the stack writes", () => {
    expect(publishedPorts(COMPOSE, { APP_PORT: "7100", UNKNOWN: "7200" }).filter((p) => p.service === "app").map((p) => p.from)).toEqual([8506, 9100, 7100, 7200, 7443, 6000]);
    expect(interpolateKnown("$$HOME ${A:-x} ${B-y} $C", { C: "c" })).toBe("$HOME x y c");
    expect(interpolateKnown("${A}", {})).toBeUndefined();
  });
});

describe("externalNetworks", () => {
  it("names the Docker network of every external one: name:, the legacy external.name, else the key; sorted", () => {
    expect(externalNetworks(COMPOSE, {})).toEqual(["cf-shared", "old-net", "proxy"]);
    expect(externalNetworks(COMPOSE, { NET_NAME: "tmpl" })).toEqual(["cf-shared", "old-net", "proxy", "tmpl"]);
  });
});

describe("networkLines under the real sh", () => {
  const dir = mkdtempSync(join(tmpdir(), "fleet-networks-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const log = join(dir, "calls");
  // `docker network inspect N` succeeds for the networks listed in $dir/existing; `create` fails for "broken".
  writeFileSync(
    join(dir, "docker"),
    `#!/bin/sh\necho "$*" >> ${log}\nif [ "$2" = inspect ]; then grep -qx "$3" ${join(dir, "existing")}; exit $?; fi\n[ "$3" != broken ]\n`,
    { mode: 0o755 },
  );
  writeFileSync(join(dir, "existing"), "cf-shared\n");
  const run = (networks: string[]) => {
    writeFileSync(log, "");
    const r = runProcessSync("/bin/sh", ["-c", `set -eu\n${networkLines(networks).join("\n")}\necho done`], { env: { ...process.env, PATH: `${dir}:${process.env.PATH ?? ""}` } });
    return { ...r, calls: readFileSync(log, "utf8").trim().split("\n") };
  };

  it("creates a missing network, leaves an existing one alone", () => {
    const r = run(["proxy", "cf-shared"]);
    expect(r.code).toBe(0);
    expect(r.calls).toEqual(["network inspect cf-shared", "network inspect proxy", "network create proxy"]);
  });

  it("stops before up when a network cannot be created, naming it", () => {
    const r = run(["broken"]);
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain("done");
    expect(r.stderr).toContain("fleet: cannot create the external network broken the compose file needs");
  });
});

describe("projectNames: what a first up creates under fixed names (issue 13 item 9)", () => {
  const FILE = `services:
  app:
    build: .
    container_name: \${APP_NAME:-peregrine}
  worker:
    image: w
  db:
    image: d
    container_name: \${DB_NAME}
networks:
  back: {}
  front:
    name: cf-front
  proxy:
    external: true
  legacy:
    external:
      name: old
`;

  it("container_name as compose interpolates it, else <project>-<service>-1; created networks only", () => {
    expect(projectNames(FILE, "peregrine-cloud")).toEqual({ containers: ["peregrine", "peregrine-cloud-worker-1"], networks: ["peregrine-cloud_back", "cf-front"] });
    expect(projectNames(FILE, "p", { APP_NAME: "pg-app", DB_NAME: "pg-db" }).containers).toEqual(["pg-app", "p-worker-1", "pg-db"]);
  });

  it("a file without networks or container names", () => {
    expect(projectNames("services:\n  web:\n    image: x\n", "shop")).toEqual({ containers: ["shop-web-1"], networks: [] });
  });
});
