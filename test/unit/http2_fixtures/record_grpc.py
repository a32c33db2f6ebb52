#!/usr/bin/python3
"""Records one gRPC client session (HTTP/2 over cleartext TCP) as a fixture for netlens's
HTTP/2 / gRPC parser unit tests.

  /usr/bin/python3 test/unit/http2_fixtures/record_grpc.py OUT.txt

Starts test/helpers/grpc_peer.py's server (as a subprocess), a thread-based TCP relay on
127.0.0.1 in between, and runs grpc_peer.py's client default plan through the relay.
Every recv() chunk is recorded in the order it happened (one lock for both directions):
  W <hex>   bytes the CLIENT sent (client -> server): the client socket's writes
  R <hex>   bytes the client received (server -> client): the client socket's reads
Exactly one client connection must go through the relay (asserted). Then checks that the
W side starts with the HTTP/2 client preface. test/unit/http2_fixtures/check_grpc_session.py
decodes the result independently (hyperframe + hpack).
"""
import datetime
import json
import os
import platform
import socket
import subprocess
import sys
import threading

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.normpath(os.path.join(HERE, "..", "..", "helpers", "grpc_peer.py"))
sys.path.insert(0, os.path.dirname(PEER))
import grpc_peer  # noqa: E402  (only for the plan's description)

PREFACE = bytes.fromhex("505249202a20485454502f322e300d0a0d0a534d0d0a0d0a")


class Relay:
    """Accepts client connections on 127.0.0.1:port, connects each to the server, forwards
    both ways and records every chunk."""

    def __init__(self, server_port):
        self.server_port = server_port
        self.lock = threading.Lock()
        self.lines = []
        self.connections = 0
        self.threads = []
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.accepter = threading.Thread(target=self._accept, daemon=True)
        self.accepter.start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            upstream = socket.create_connection(("127.0.0.1", self.server_port))
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for src, dst, tag in ((client, upstream, "W"), (upstream, client, "R")):
                t = threading.Thread(target=self._pump, args=(src, dst, tag), daemon=True)
                t.start()
                self.threads.append(t)

    def _pump(self, src, dst, tag):
        while True:
            try:
                chunk = src.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            with self.lock:  # record before forwarding: causal order is kept
                self.lines.append("%s %s" % (tag, chunk.hex()))
            try:
                dst.sendall(chunk)
            except OSError:
                return

    def close(self, timeout=10):
        self.listener.close()
        for t in list(self.threads):
            t.join(timeout)
            if t.is_alive():
                raise RuntimeError("relay thread still running after the client exited")


def describe_plan():
    out = []
    for method, request, expected, concurrent in grpc_peer.DEFAULT_PLAN:
        req = request.decode() if len(request) < 16 else "<%d bytes>" % len(request)
        out.append("%s(%s) -> %s (%d)%s" % (grpc_peer.path(method), req, expected.name,
                                            expected.value[0],
                                            "  [concurrent]" if concurrent else ""))
    return out


def main(argv):
    if len(argv) != 2:
        print("usage: record_grpc.py OUT.txt", file=sys.stderr)
        return 2
    out_path = argv[1]
    server = subprocess.Popen(["/usr/bin/python3", PEER, "server", "--port", "0"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        ready = server.stdout.readline().split()
        assert ready and ready[0] == "ready", "server said %r" % ready
        relay = Relay(int(ready[1]))
        client = subprocess.run(["/usr/bin/python3", PEER, "client", "--port", str(relay.port)],
                                capture_output=True, text=True, timeout=60)
        if client.returncode != 0:
            print("client failed (%d): %s" % (client.returncode, client.stderr), file=sys.stderr)
            return 1
        relay.close()
    finally:
        server.stdin.close()
        server.wait(10)
    assert relay.connections == 1, "%d client connections went through the relay" % relay.connections
    calls = json.loads(client.stdout)["calls"]

    w = b"".join(bytes.fromhex(l[2:]) for l in relay.lines if l[0] == "W")
    r = b"".join(bytes.fromhex(l[2:]) for l in relay.lines if l[0] == "R")
    assert w.startswith(PREFACE), "W side does not start with the HTTP/2 preface"
    nw = sum(1 for l in relay.lines if l[0] == "W")
    nr = len(relay.lines) - nw

    header = [
        "gRPC session over one cleartext HTTP/2 connection, recorded by",
        "test/unit/http2_fixtures/record_grpc.py through a TCP relay between",
        "test/helpers/grpc_peer.py client (default plan) and grpc_peer.py server.",
        "grpc (python3-grpcio) %s, Python %s, recorded %s"
        % (grpc.__version__, platform.python_version(),
           datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")),
        "",
        "Plan (in order; each call awaited before the next, except the concurrent Slow calls,",
        "started together on the same connection and then awaited); expected grpc-status:",
    ] + ["  %2d. %s" % (i + 1, d) for i, d in enumerate(describe_plan())] + [
        "The client waited for the channel to be ready first (connects before the first RPC).",
        "",
        "Lines: 'W <hex>' = bytes the CLIENT wrote (client -> server),",
        "       'R <hex>' = bytes the client read (server -> client);",
        "one line per recv() chunk at the relay, in the order they happened.",
        "%d W lines (%d bytes), %d R lines (%d bytes)." % (nw, len(w), nr, len(r)),
    ]
    with open(out_path, "w") as f:
        for h in header:
            f.write(("# " + h).rstrip() + "\n")
        for line in relay.lines:
            f.write(line + "\n")
    print("wrote %s: %d W lines (%d bytes), %d R lines (%d bytes), %d calls, 1 connection"
          % (out_path, nw, len(w), nr, len(r), len(calls)))
    print(client.stdout.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
