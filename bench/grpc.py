#!/usr/bin/env python3
"""What gRPC (HTTP/2) request parsing costs: a python3-grpcio server and 2 clients in parallel
(test/helpers/grpc_peer.py), each one connection making N sequential unary calls of 5 bytes
(the smallest call, so the capture's cost per call weighs most), in the rounds of
bench/request_rounds.py: none, netlens (default config), netlens+http2 (http_requests selecting
python3, protocols [http, http2]); per round calls/s, the server's CPU per call (utime+stime)
and netlens' own, and the BPF run time per call.

  bench/grpc.py --netlens build/netlens --out-dir bench/results [--rounds 5] [--calls 5000]
"""
import os
import subprocess
import tempfile
import time

from request_rounds import arguments, report, run_rounds

PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "helpers",
                    "grpc_peer.py")
PYTHON = "/usr/bin/python3"  # Debian's, with python3-grpcio
HTTP2_CONFIG = ("http_requests:\n  protocols: [http, http2]\n  processes:\n    include:\n"
                "      - comm: python3\n")
CLIENTS = 2


def start_server():
    server = subprocess.Popen([PYTHON, PEER, "server", "--port", "0"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    line = server.stdout.readline()
    if not line.startswith("ready "):
        raise RuntimeError("grpc_peer server did not start")
    return server, int(line.split()[1])


def run_clients(port, calls):
    """CLIENTS clients in parallel, each its own connection: seconds."""
    start = time.monotonic()
    children = [subprocess.Popen([PYTHON, PEER, "client", "--port", str(port), "--plan", "count",
                                  "--calls", str(calls)], stdout=subprocess.DEVNULL)
                for _ in range(CLIENTS)]
    for child in children:
        if child.wait() != 0:
            raise RuntimeError("grpc_peer client failed")
    return time.monotonic() - start


def main():
    a = arguments(lambda p: p.add_argument("--calls", type=int, default=5000))
    work = tempfile.mkdtemp(prefix="nl-grpc-bench.")
    server, port = start_server()
    try:
        run_clients(port, 200)  # warm-up
        results, bpf = run_rounds(a.netlens, work, "netlens+http2", HTTP2_CONFIG, a.rounds,
                                  server.pid, lambda: run_clients(port, a.calls),
                                  CLIENTS * a.calls)
    finally:
        server.stdin.close()
        server.wait(30)
    report(a.out_dir, "grpc", f"gRPC parsing cost: python3-grpcio server, {CLIENTS} client "
           f"connections x {a.calls} unary calls, {a.rounds} rounds", "call", "server",
           {"rounds": a.rounds, "clients": CLIENTS, "calls_per_client": a.calls}, results, bpf)


if __name__ == "__main__":
    main()
