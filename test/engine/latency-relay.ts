/**
 * The delaying TCP relay of `delayedLinks` (./latency.ts), run as its own process so its
 * work is not counted as the engine side's CPU. The machine's kernel has no netem
 * (CONFIG_NET_SCH_NETEM is not set), so a link's latency is made here:
 *
 *   tsx test/engine/latency-relay.ts ONE_WAY_MS NAME=ADDRESS:PORT...
 *
 * For each NAME it listens on 127.0.0.1 (a port the kernel picks) and prints
 * `listen NAME PORT`; each accepted connection waits one round trip (TCP's handshake),
 * dials ADDRESS:PORT and then passes every chunk on ONE_WAY_MS after it arrived, in both
 * directions, in order (an end or a reset too). When a connection is over it prints
 * `conn NAME OPENED LAST CLOSED PORT` (epoch milliseconds: the accept, the last chunk passed
 * on either way, the close; PORT is the relay's own port towards the host, the client port
 * sshd and `SSH_CLIENT` see). LAST is when the command was over for the client: the
 * command provider 1.2.1 closes the session but never the SSH client it dialled
 * (`CommandOutputs.run`), so the connection stays open, idle, until the provider exits. It exits when its stdin closes.
 */
import { connect, createServer, type Server, type Socket } from "node:net";

const [oneWayArg, ...targets] = process.argv.slice(2);
const oneWay = Number(oneWayArg);
if (!Number.isFinite(oneWay) || oneWay < 0 || targets.length === 0) {
  process.stderr.write("usage: latency-relay.ts ONE_WAY_MS NAME=ADDRESS:PORT...\n");
  process.exit(2);
}

/**
 * `from`'s bytes and end reach `to` `oneWay` ms later; `sent` after each chunk is passed
 * on, `done` when `to` got its end.
 */
function delayed(from: Socket, to: Socket, sent: () => void, done: () => void): void {
  from.on("data", (chunk: Buffer) => {
    setTimeout(() => {
      if (!to.destroyed) to.write(chunk);
      sent();
    }, oneWay);
  });
  from.on("end", () => {
    setTimeout(() => {
      to.end();
      done();
    }, oneWay);
  });
}

function relay(name: string, address: string, port: number): Server {
  return createServer({ pauseOnConnect: true }, (client) => {
    const opened = Date.now();
    let reported = false;
    let upstreamPort = 0;
    let last = opened;
    const sent = () => {
      last = Date.now();
    };
    const report = () => {
      if (reported) return;
      reported = true;
      process.stdout.write(`conn ${name} ${opened} ${last} ${Date.now()} ${upstreamPort}\n`);
    };
    client.on("error", () => undefined);
    // TCP's own handshake costs a round trip before the client's first byte can leave.
    setTimeout(() => {
      const server = connect({ host: address, port }, () => {
        upstreamPort = server.localPort ?? 0;
        delayed(client, server, sent, () => undefined);
        delayed(server, client, sent, report);
        client.resume();
      });
      server.on("error", () => setTimeout(() => client.destroy(), oneWay));
      server.on("close", () => setTimeout(() => client.destroy(), oneWay));
      client.on("close", () => {
        report();
        setTimeout(() => server.destroy(), oneWay);
      });
    }, 2 * oneWay);
  });
}

const servers: Server[] = [];
for (const t of targets) {
  const m = /^([^=]+)=([^:]+):(\d+)$/.exec(t);
  if (!m) {
    process.stderr.write(`latency-relay: ${t}: expected NAME=ADDRESS:PORT\n`);
    process.exit(2);
  }
  const [, name, address, port] = m as unknown as [string, string, string, string];
  const s = relay(name, address, Number(port));
  s.listen(0, "127.0.0.1", () => {
    const a = s.address();
    if (a && typeof a === "object") process.stdout.write(`listen ${name} ${a.port}\n`);
  });
  servers.push(s);
}
process.stdin.resume();
process.stdin.on("end", () => {
  for (const s of servers) s.close();
  process.exit(0);
});
