/**
 * End to end (issue 9, item 1): a route that denies `/metrics` refuses every spelling
 * of it through the real HAProxy on titania, while nginx on puck, whose allow list
 * admits HAProxy's own address, serves the metrics to the same spellings when asked
 * directly. The requests are sent byte for byte (no client-side normalisation) from
 * inside titania.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HAProxyFrontend, HAProxyRoute } from "../../src/components/haproxy";
import { NginxSite } from "../../src/components/nginx";
import { METRICS_NEIGHBOURS, METRICS_SPELLINGS } from "../components/haproxy-paths";
import { startDns } from "./dns";
import { ADDRESSES, type Fleet, type HostName, startHosts, SUBNET } from "./harness";
import { build, createAll, eventually, fleetHosts, hostOf } from "./program";

const HOSTS: HostName[] = ["titania", "puck"];
const DOMAIN = "metrics.fleet.test";
const PORT = 8093;
const APP_BODY = "app via nginx on puck";
const METRICS = "# TYPE fleet_e2e_secret_metric gauge\nfleet_e2e_secret_metric 1\n";

/** Raw HTTP/1.1 client: one connection per target, the target sent as given. Prints [status, body] per target as JSON. */
const RAW_CLIENT = String.raw`
import json, socket, sys
host, port, header = sys.argv[1], int(sys.argv[2]), sys.argv[3]
out = []
for target in sys.argv[4:]:
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (target, header)).encode("latin-1"))
    data = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
    s.close()
    head, _, body = data.decode("latin-1").partition("\r\n\r\n")
    out.append([int(head.split(" ")[1]), body])
print(json.dumps(out))
`;

function program(hosts: ReturnType<typeof fleetHosts>) {
  const titania = hostOf(hosts, "titania");
  const puck = hostOf(hosts, "puck");
  const frontend = new HAProxyFrontend("titania", { host: titania, httpBind: `${ADDRESSES.titania}:80`, nameservers: [{ address: "127.0.0.1", port: 53 }] });
  // As in stack ouranos: /metrics is a prefix location open to the internal network,
  // which HAProxy's own address belongs to.
  const site = new NginxSite("metrics-site", {
    host: puck,
    site: "metrics",
    listen: PORT,
    address: ADDRESSES.puck,
    locations: [
      { path: "= /healthz", returnStatus: 200, returnBody: "ok" },
      { path: "/", returnStatus: 200, returnBody: APP_BODY },
      { path: "/metrics", static: { root: "/srv/metrics-app" }, allow: [SUBNET] },
    ],
  });
  const route = new HAProxyRoute(
    "metrics",
    { host: titania, backend: "metricsapp", domains: [DOMAIN], healthPath: "/healthz", denyPaths: ["/metrics"], servers: [{ name: "puck", address: "puck.incus", port: PORT }] },
    { dependsOn: [frontend, site] },
  );
  return { frontend, site, route };
}

describe("/metrics denied through the real HAProxy, however it is spelled (issue 9 item 1)", () => {
  let fleet: Fleet;

  beforeAll(async () => {
    fleet = await startHosts({ names: HOSTS });
    await startDns(fleet, "titania");
    const built = await build(() => program(fleetHosts(fleet)));
    const staged = await fleet.exec("puck", ["/bin/sh", "-c", "mkdir -p /srv/metrics-app && cat > /srv/metrics-app/metrics"], { stdin: METRICS });
    expect(staged.code, staged.stderr).toBe(0);
    await createAll(fleet, ["titania-config", "metrics-site-config", "metrics-files"].map((n) => built.command(n)));
    await eventually(`HAProxy to route ${DOMAIN} to nginx on puck`, 20_000, () => raw(ADDRESSES.titania, 80, ["/"]), (r) => r[0]?.[0] === 200 && r[0][1] === APP_BODY);
  });

  afterAll(async () => {
    await fleet?.teardown();
  });

  async function raw(address: string, port: number, targets: readonly string[]): Promise<[number, string][]> {
    const r = await fleet.exec("titania", ["python3", "-c", RAW_CLIENT, address, String(port), DOMAIN, ...targets]);
    if (r.code !== 0) throw new Error(`raw client: exit ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as [number, string][];
  }

  it("nginx alone serves the metrics to HAProxy's address, also when spelled /%6detrics, //metrics or /x/../metrics", async () => {
    // The precondition of the leak: the allow list passes titania, and nginx normalises.
    const direct = await raw(ADDRESSES.puck, PORT, ["/metrics", "/%6detrics", "//metrics", "/./metrics", "/x/../metrics", "/%2e/metrics"]);
    expect(direct).toEqual(Array.from({ length: 6 }, () => [200, METRICS]));
  });

  it("HAProxy refuses every spelling (400 or 403) and never returns the metrics", async () => {
    const targets = [...METRICS_SPELLINGS, `http://${DOMAIN}/metrics`, `http://${DOMAIN}//%6detrics`];
    const answers = await raw(ADDRESSES.titania, 80, targets);
    const leaked = targets.filter((_, i) => answers[i]![1].includes("fleet_e2e_secret_metric") || ![400, 403].includes(answers[i]![0]));
    expect(leaked).toEqual([]);
  });

  it("HAProxy still forwards the neighbouring paths to nginx", async () => {
    const answers = await raw(ADDRESSES.titania, 80, METRICS_NEIGHBOURS);
    // /metricsx falls in nginx's prefix location /metrics, which has no such file: nginx's 404.
    const expected = (t: string) => (t === "/metricsx" ? [t, 404, "nginx"] : [t, 200, APP_BODY]);
    expect(answers.map(([status, body], i) => [METRICS_NEIGHBOURS[i], status, status === 404 && body.includes("nginx/") ? "nginx" : body])).toEqual(METRICS_NEIGHBOURS.map(expected));
  });
});
