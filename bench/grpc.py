#!/usr/bin/env python3
"""What gRPC (HTTP/2) request parsing costs: a python3-grpcio server and 2 clients in parallel
(test/helpers/grpc_peer.py), each one connection making N sequential unary calls of 5 bytes
(the smallest call, so the capture's cost per call weighs most), interleaved rounds of
  none            no netlens
  netlens         netlens with its default config (TCP accounting only)
  netlens+http2   http_requests selecting python3, protocols [http, http2]
with kernel.bpf_stats_enabled=0 during the timed rounds (it adds cost), per round calls/s, the
server's CPU per call (utime+stime) and netlens' own; then one round per netlens mode with
bpf_stats on for the BPF run time of all netlens programs per call. Medians over the rounds.

  bench/grpc.py --netlens build/netlens --out-dir bench/results [--rounds 5] [--calls 5000]
"""
import argparse
import os
import signal
import statistics
import subprocess
import tempfile
import time

from nginx_phases import cpu_ns, start_netlens, write_report
from service_map import netlens_run_ns

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
    p = argparse.ArgumentParser()
    p.add_argument("--netlens", required=True)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--calls", type=int, default=5000)
    a = p.parse_args()
    work = tempfile.mkdtemp(prefix="nl-grpc-bench.")
    total = CLIENTS * a.calls
    modes = ("none", "netlens", "netlens+http2")
    results = {m: [] for m in modes}
    bpf = {}
    subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=0"], check=True)
    server, port = start_server()
    try:
        run_clients(port, 200)  # warm-up
        for round_index in range(a.rounds + 1):
            timing = round_index < a.rounds  # the last round: bpf_stats on, netlens modes only
            if not timing:
                subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=1"], check=True)
            for mode in modes:
                if not timing and mode == "none":
                    continue
                netlens = None
                if mode != "none":
                    netlens, _ = start_netlens(a.netlens, work,
                                               HTTP2_CONFIG if mode == "netlens+http2" else "")
                    time.sleep(1.5)  # the first scan of the watched processes
                own = (lambda: cpu_ns(netlens.pid)) if netlens else (lambda: 0)
                bpf0, cpu0, own0 = netlens_run_ns(), cpu_ns(server.pid), own()
                seconds = run_clients(port, a.calls)
                time.sleep(0.3)  # the capture's last drain
                bpf1, cpu1, own1 = netlens_run_ns(), cpu_ns(server.pid), own()
                if timing:
                    results[mode].append({"calls_per_s": total / seconds,
                                          "server_cpu_ns_per_call": (cpu1 - cpu0) / total,
                                          "netlens_cpu_ns_per_call": (own1 - own0) / total})
                else:
                    bpf[mode] = (bpf1 - bpf0) / total
                if netlens:
                    netlens.send_signal(signal.SIGTERM)
                    netlens.wait(10)
    finally:
        subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=0"], check=True)
        server.stdin.close()
        server.wait(30)

    keys = ("calls_per_s", "server_cpu_ns_per_call", "netlens_cpu_ns_per_call")
    summary = {m: {k: statistics.median(r[k] for r in results[m]) for k in keys} for m in modes}
    for m in modes:
        for k in keys[:2]:
            summary[m][k + "_vs_none"] = summary[m][k] / summary["none"][k]
    report = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "kernel": os.uname().release, "rounds": a.rounds, "clients": CLIENTS,
              "calls_per_client": a.calls, "runs": results, "medians": summary,
              "bpf_ns_per_call": bpf}
    lines = [f"gRPC parsing cost, {report['started']}, kernel {report['kernel']}: python3-grpcio "
             f"server, {CLIENTS} client connections x {a.calls} unary calls, {a.rounds} "
             "interleaved rounds (bpf_stats off), medians; BPF time from one more round with "
             "bpf_stats on", "",
             "| mode | calls/s | vs none | server CPU ns/call | vs none | BPF ns/call | "
             "netlens CPU ns/call |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for m in modes:
        s = summary[m]
        b = f"{bpf[m]:.0f}" if m in bpf else "-"
        lines.append(f"| {m} | {s['calls_per_s']:.0f} | {s['calls_per_s_vs_none']:.3f} | "
                     f"{s['server_cpu_ns_per_call']:.0f} | "
                     f"{s['server_cpu_ns_per_call_vs_none']:.3f} | {b} | "
                     f"{s['netlens_cpu_ns_per_call']:.0f} |")
    write_report(a.out_dir, "grpc", report, lines)


if __name__ == "__main__":
    main()
