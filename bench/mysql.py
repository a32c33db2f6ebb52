#!/usr/bin/env python3
"""What MySQL request parsing costs: Debian's MariaDB server on loopback, 4 nl-mysql-client
connections in parallel each sending `SELECT 1` (the worst case: the smallest command, so the
capture's cost per call weighs most), in the rounds of
bench/request_rounds.py: none, netlens (default config), netlens+mysql (http_requests selecting
mariadbd and the clients, protocols [http, mysql]); per round queries/s, mariadbd's CPU per
query (utime+stime) and netlens' own, and the BPF run time per query.

  bench/mysql.py --netlens build/netlens --client build/test/nl-mysql-client \\
      --out-dir bench/results [--rounds 5] [--queries 20000]
"""
import os
import shutil
import signal
import subprocess
import tempfile
import time

from nginx_phases import free_port
from request_rounds import arguments, report, run_rounds

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
    def own(p):
        p.add_argument("--client", required=True)
        p.add_argument("--queries", type=int, default=20000)

    a = arguments(own)
    work = tempfile.mkdtemp(prefix="nl-mysql-bench.")
    commands = os.path.join(work, "commands")
    with open(commands, "w") as f:
        f.write("query SELECT 1\n" * a.queries)
    server, port = start_mariadb(work)
    try:
        run_clients(a.client, port, commands)  # warm-up
        results, bpf = run_rounds(a.netlens, work, "netlens+mysql", MYSQL_CONFIG, a.rounds,
                                  server.pid, lambda: run_clients(a.client, port, commands),
                                  CLIENTS * a.queries)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
        shutil.rmtree(work, ignore_errors=True)
    report(a.out_dir, "mysql", f"MySQL parsing cost: MariaDB 10.11, {CLIENTS} nl-mysql-client "
           f"connections x {a.queries} `SELECT 1`, {a.rounds} rounds", "query", "mariadbd",
           {"rounds": a.rounds, "clients": CLIENTS, "queries_per_client": a.queries}, results,
           bpf)


if __name__ == "__main__":
    main()
