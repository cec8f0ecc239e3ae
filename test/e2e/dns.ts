/**
 * A stand-in for the Incus bridge's DNS server: a tiny UDP responder on 127.0.0.1:53
 * inside one test host, answering A queries for the names in that host's /etc/hosts
 * (`puck.incus`, ...) and NXDOMAIN for everything else. It never forwards anything.
 *
 * HAProxy routes resolve their servers at runtime through the `fleet` resolvers section
 * (DESIGN.md seed decisions). Production has the Incus DNS for `*.incus`; the test hosts
 * only have /etc/hosts, and without a DNS server HAProxy puts every server addressed by
 * name into maintenance once `hold` expires (see the report of issue 4). This gives the
 * test hosts what production has, on loopback.
 *
 * The process runs inside the host's namespaces, so the harness's teardown kills it.
 */
import { type Fleet, type HostName } from "./harness";
import { eventually } from "./program";

const RESPONDER = String.raw`
import socket, struct
hosts = {}
for line in open("/etc/hosts"):
    f = line.split("#")[0].split()
    if len(f) >= 2 and ":" not in f[0]:
        for n in f[1:]:
            hosts[n.lower().rstrip(".")] = socket.inet_aton(f[0])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
while True:
    q, peer = s.recvfrom(4096)
    if len(q) < 12:
        continue
    qid, flags = struct.unpack(">HH", q[:4])
    i, labels = 12, []
    while i < len(q) and q[i] != 0:
        n = q[i]
        labels.append(q[i + 1:i + 1 + n].decode("ascii", "replace"))
        i += 1 + n
    i += 1
    if i + 4 > len(q):
        continue
    qtype = struct.unpack(">H", q[i:i + 2])[0]
    question = q[12:i + 4]
    ip = hosts.get(".".join(labels).lower())
    if ip is None:
        rcode, answer = 3, b""
    elif qtype == 1:
        rcode, answer = 0, b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 5, 4) + ip
    else:
        rcode, answer = 0, b""
    head = struct.pack(">HHHHHH", qid, 0x8400 | 0x0080 | (flags & 0x0100) | rcode, 1, 1 if answer else 0, 0, 0)
    s.sendto(head + question + answer, peer)
`;

/** Start the responder in `host` and wait (bounded) until it listens on 127.0.0.1:53. */
export async function startDns(fleet: Fleet, host: HostName): Promise<void> {
  const r = await fleet.exec(host, ["/bin/sh", "-c", 'setsid python3 -c "$0" >/dev/null 2>&1 </dev/null &', RESPONDER]);
  if (r.code !== 0) throw new Error(`starting the DNS stand-in on ${host} failed: ${r.stderr}`);
  await eventually(
    `the DNS stand-in on ${host} to listen on 127.0.0.1:53`,
    10_000,
    () => fleet.exec(host, ["ss", "-Hnul", "src", "127.0.0.1:53"]),
    (x) => x.code === 0 && x.stdout.includes("127.0.0.1:53"),
  );
}
