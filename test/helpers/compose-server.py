"""
docker-compose v1 (Debian's 1.29.2, the validator the tests run) served from one
pre-loaded interpreter: a fork server. Starting docker-compose costs about one CPU
second, nearly all of it Python importing compose and its dependencies; the suite
runs it dozens of times. This process imports compose once (the same entry point
/usr/bin/docker-compose loads), then forks a child per request that runs compose's
own `main()` with the caller's argv, working directory, environment and stdin,
stdout and stderr (passed over the socket as file descriptors), and reports the exit
status. Each request runs in a fresh copy of the loaded process, so no state passes
from one run to the next. The client is test/helpers/compose-shim/docker-compose.

    python3 compose-server.py SOCKET_PATH     # serves until SIGTERM; prints "ready" when listening
"""
import io
import json
import os
import signal
import socket
import sys

# What /usr/bin/docker-compose runs: the console script of the installed distribution.
from importlib.metadata import distribution

COMPOSE_MAIN = next(
    ep for ep in distribution("docker-compose").entry_points if ep.group == "console_scripts" and ep.name == "docker-compose"
).load()

MAX_MESSAGE = 1 << 20


def serve_one(conn):
    """In the forked child: run one docker-compose invocation as the client asked."""
    msg, fds, _flags, _addr = socket.recv_fds(conn, MAX_MESSAGE, 3)
    request = json.loads(msg)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    # Python's own stdio on the new descriptors, set up as at interpreter start for a
    # non-terminal (block-buffered stdout, line-buffered stderr with backslashreplace).
    sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)))
    sys.stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)), line_buffering=os.isatty(1))
    sys.stderr = io.TextIOWrapper(io.BufferedWriter(io.FileIO(2, "w", closefd=False)), errors="backslashreplace", line_buffering=True)
    sys.argv = ["docker-compose", *request["args"]]
    code = 0
    try:
        result = COMPOSE_MAIN()
        code = result if isinstance(result, int) else 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if not isinstance(e.code, int) and e.code is not None:
            print(e.code, file=sys.stderr)
    except BaseException:  # what the real interpreter does with an uncaught exception
        import traceback

        traceback.print_exc()
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    for fd in (0, 1, 2):
        os.close(fd)
    conn.sendall(str(code & 0xFF).encode())
    conn.close()
    os._exit(0)


def main():
    path = sys.argv[1]
    server = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    server.bind(path)
    server.listen(64)
    # Children are reaped by the kernel; the client learns the status over the socket.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    print("ready", flush=True)
    while True:
        conn, _ = server.accept()
        sys.stdout.flush()
        sys.stderr.flush()
        if os.fork() == 0:
            server.close()
            try:
                serve_one(conn)
            finally:
                os._exit(1)
        conn.close()


if __name__ == "__main__":
    main()
