#!/usr/bin/env python3
"""What MySQL request parsing costs: Debian's MariaDB server on loopback, 4 nl-mysql-client
connections in parallel each sending `SELECT 1` (the worst case: the smallest command, so the
capture's cost per call weighs most), interleaved rounds of
  none            no netlens
  netlens         netlens with its default config (TCP accounting only)
  netlens+mysql   http_requests selecting mariadbd and the clients, protocols [http, mysql]
with kernel.bpf_stats_enabled=0 during the timed rounds (it adds cost), per round queries/s
mariadbd's CPU per query (utime+stime) and netlens' own; then one round per netlens mode with bpf_stats on
for the BPF run time of all netlens programs per query. Medians over the rounds.

  bench/mysql.py --netlens build/netlens --client build/test/nl-mysql-client \\
      --out-dir bench/results [--rounds 5] [--queries 20000]
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import time

from nginx_phases import cpu_ns, free_port, start_netlens, write_report
from service_map import netlens_run_ns

MYSQL_CONFIG = ("http_requests:\n  protocols: [http, mysql]\n  processes:\n    include:\n"
                "      - comm: mariadbd\n      - comm: nl-mysql-client\n")
CLIENTS = 4


def start_mariadb(work):
    port = free_port()
    data = os.path.join(work, "data")
    subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root",
                    "--auth-root-authentication-method=normal", "--skip-test-db"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    err = os.path.join(work, "mysqld.err")
    server = subprocess.Popen(["mariadbd", "--no-defaults", f"--datadir={data}", "--user=root",
                               "--bind-address=127.0.0.1", f"--port={port}",
                               f"--socket={work}/mysqld.sock", f"--log-error={err}",
                               "--innodb-buffer-pool-size=16M", "--skip-log-bin", "--skip-ssl"])
    for _ in range(300):
        if os.path.exists(err) and "ready for connections" in open(err).read():
            return server, port
        time.sleep(0.1)
    raise RuntimeError("mariadbd did not get ready")


def run_clients(client, port, commands):
    """CLIENTS clients in parallel, each its own connection: (queries, seconds)."""
    start = time.monotonic()
    children = [subprocess.Popen([client, str(port)], stdin=open(commands),
                                 stdout=subprocess.DEVNULL) for _ in range(CLIENTS)]
    for child in children:
        if child.wait() != 0:
            raise RuntimeError("nl-mysql-client failed")
    return time.monotonic() - start


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--netlens", required=True)
    p.add_argument("--client", required=True)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--queries", type=int, default=20000)
    a = p.parse_args()
    work = tempfile.mkdtemp(prefix="nl-mysql-bench.")
    commands = os.path.join(work, "commands")
    with open(commands, "w") as f:
        f.write("query SELECT 1\n" * a.queries)
    queries = CLIENTS * a.queries
    modes = ("none", "netlens", "netlens+mysql")
    results = {m: [] for m in modes}
    bpf = {}
    subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=0"], check=True)
    server, port = start_mariadb(work)
    try:
        run_clients(a.client, port, commands)  # warm-up
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
                                               MYSQL_CONFIG if mode == "netlens+mysql" else "")
                    time.sleep(1.5)  # the first scan of the watched processes
                own = (lambda: cpu_ns(netlens.pid)) if netlens else (lambda: 0)
                bpf0, cpu0, own0 = netlens_run_ns(), cpu_ns(server.pid), own()
                seconds = run_clients(a.client, port, commands)
                time.sleep(0.3)  # the capture's last drain
                bpf1, cpu1, own1 = netlens_run_ns(), cpu_ns(server.pid), own()
                if timing:
                    results[mode].append({"queries_per_s": queries / seconds,
                                          "mariadbd_cpu_ns_per_query": (cpu1 - cpu0) / queries,
                                          "netlens_cpu_ns_per_query": (own1 - own0) / queries})
                else:
                    bpf[mode] = (bpf1 - bpf0) / queries
                if netlens:
                    netlens.send_signal(signal.SIGTERM)
                    netlens.wait(10)
    finally:
        subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=0"], check=True)
        server.send_signal(signal.SIGTERM)
        server.wait(30)
        shutil.rmtree(work, ignore_errors=True)

    keys = ("queries_per_s", "mariadbd_cpu_ns_per_query", "netlens_cpu_ns_per_query")
    summary = {m: {k: statistics.median(r[k] for r in results[m]) for k in keys} for m in modes}
    for m in modes:
        for k in keys[:2]:
            summary[m][k + "_vs_none"] = summary[m][k] / summary["none"][k]
    report = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "kernel": os.uname().release, "rounds": a.rounds, "clients": CLIENTS,
              "queries_per_client": a.queries, "runs": results, "medians": summary,
              "bpf_ns_per_query": bpf}
    lines = [f"MySQL parsing cost, {report['started']}, kernel {report['kernel']}: MariaDB "
             f"10.11, {CLIENTS} nl-mysql-client connections x {a.queries} `SELECT 1`, "
             f"{a.rounds} interleaved rounds (bpf_stats off), medians; BPF time from one more "
             "round with bpf_stats on", "",
             "| mode | queries/s | vs none | mariadbd CPU ns/query | vs none | BPF ns/query | "
             "netlens CPU ns/query |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for m in modes:
        s = summary[m]
        b = f"{bpf[m]:.0f}" if m in bpf else "-"
        lines.append(f"| {m} | {s['queries_per_s']:.0f} | {s['queries_per_s_vs_none']:.3f} | "
                     f"{s['mariadbd_cpu_ns_per_query']:.0f} | "
                     f"{s['mariadbd_cpu_ns_per_query_vs_none']:.3f} | {b} | "
                     f"{s['netlens_cpu_ns_per_query']:.0f} |")
    write_report(a.out_dir, "mysql", report, lines)


if __name__ == "__main__":
    main()
