#!/usr/bin/env python3
"""What nginx_phases costs nginx: nginx (1 worker) under wrk keep-alive, interleaved rounds of
  none                no netlens
  empty_uprobe        an empty bpftrace uprobe on ngx_http_free_request: the floor of any probe
                      there (the issue's target: nginx_phases within 10 % of its cost)
  netlens             netlens with its default config (TCP accounting only)
  netlens+phases      the same plus nginx_phases (one uprobe per request, at the build's probe
                      site inside ngx_http_free_request)
  netlens+phases@entry  the same with the probe at the function's entry (the build given in the
                      config without its probe_site), as before session 18
Per round: requests/s (wrk) and nginx's CPU per request (utime+stime of the worker); medians
over the rounds. Then one run with kernel.bpf_stats_enabled=1 for the probe's own BPF run time
per request (bpf_stats adds cost, so it is not on during the timed rounds).

  bench/nginx_phases.py --netlens build/netlens --out-dir bench/results [--rounds 5]
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request

TICK_NS = 1e9 / os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_ns(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_NS


def workers(master):
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def wait_http(url, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} does not answer")


def start_netlens(binary, work, extra_config=""):
    """netlens on a free loopback port with `listen` and extra_config; (process, port) once it
    serves."""
    port = free_port()
    config = os.path.join(work, f"netlens-{port}.yaml")
    with open(config, "w") as f:
        f.write(f"listen: 127.0.0.1:{port}\n{extra_config}")
    log = open(os.path.join(work, f"netlens-{port}.log"), "w")
    child = subprocess.Popen([binary, "--config", config], stdout=log, stderr=log)
    wait_http(f"http://127.0.0.1:{port}/metrics")
    return child, port


PHASES_CONFIG = "nginx_phases:\n  processes:\n    include:\n      - comm: nginx\n"
DEBIAN_BUILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "daemon", "nginx",
                            "builds", "nginx-1.22.1-debian12-amd64.yaml")


def entry_config():
    """PHASES_CONFIG with Debian's build given without its probe_site: probed at the entry."""
    lines = []
    with open(DEBIAN_BUILD) as table:
        for line in table:
            if line.startswith("  probe_site:"):
                break
            if not line.lstrip().startswith("#"):
                lines.append("    " + line)
    return PHASES_CONFIG + "  builds:\n" + "".join(lines)


def start_empty_uprobe():
    child = subprocess.Popen(["bpftrace", "-e", "uprobe:/usr/sbin/nginx:ngx_http_free_request {}"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    while not seen or "Attaching" not in seen[-1]:
        line = child.stdout.readline()
        if not line or len(seen) > 10:
            raise RuntimeError("bpftrace did not attach: " + "".join(seen))
        seen.append(line)
    time.sleep(0.5)  # "Attaching" comes just before the attach
    return child


def wrk(url, duration):
    out = subprocess.run(["wrk", "-t1", "-c16", f"-d{duration}s", url], capture_output=True,
                         text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    return requests, float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def probe_runs():
    out = subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True, text=True,
                         check=True).stdout
    for prog in json.loads(out):
        if prog.get("name", "").startswith("nl_nginx_free_r"):
            return prog.get("run_cnt", 0), prog.get("run_time_ns", 0)
    raise RuntimeError("nl_nginx_free_request is not loaded")


def arguments():
    """The options every nginx benchmark here takes."""
    p = argparse.ArgumentParser()
    p.add_argument("--netlens", required=True)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--duration", type=int, default=10)
    return p.parse_args()


def start_nginx(prefix, access_log):
    """Debian's nginx, 1 worker, serving a 6-byte index.html on a free loopback port, from a new
    temporary directory: (directory, URL, process). access_log: the directive's value, with
    {work} for the directory ("off" for none)."""
    work = tempfile.mkdtemp(prefix=prefix)
    port = free_port()
    os.makedirs(os.path.join(work, "www"))
    with open(os.path.join(work, "www", "index.html"), "w") as f:
        f.write("hello\n")
    with open(os.path.join(work, "nginx.conf"), "w") as f:
        f.write(f"daemon off;\nmaster_process on;\nworker_processes 1;\nuser root;\n"
                f"pid {work}/nginx.pid;\nerror_log {work}/error.log;\n"
                f"events {{ worker_connections 256; }}\nhttp {{\n"
                f"  access_log {access_log.format(work=work)};\n"
                f"  server {{ listen 127.0.0.1:{port}; root {work}/www; }}\n}}\n")
    nginx = subprocess.Popen(["/usr/sbin/nginx", "-p", work, "-c", f"{work}/nginx.conf"])
    return work, f"http://127.0.0.1:{port}/", nginx


def write_report(out_dir, name, report, lines):
    """out_dir/name.json (every run) and out_dir/name.md (the table), and the table printed."""
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, f"{name}.json"), "w") as f:
        json.dump(report, f, indent=1)
    with open(os.path.join(out_dir, f"{name}.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def main():
    a = arguments()
    work, url, nginx = start_nginx("nl-nginx-bench.", "{work}/access.log")
    results = {"none": [], "empty_uprobe": [], "netlens": [], "netlens+phases": [],
               "netlens+phases@entry": []}
    configs = {"netlens": "", "netlens+phases": PHASES_CONFIG,
               "netlens+phases@entry": entry_config()}
    try:
        wait_http(url)
        (worker,) = workers(nginx.pid)
        wrk(url, 2)  # warm-up
        for _ in range(a.rounds):
            for mode in results:
                netlens = None
                if mode == "empty_uprobe":
                    netlens = start_empty_uprobe()
                elif mode != "none":
                    netlens, _ = start_netlens(a.netlens, work, configs[mode])
                before = cpu_ns(worker)
                requests, rate = wrk(url, a.duration)
                used = cpu_ns(worker) - before
                results[mode].append({"requests_per_s": rate, "nginx_cpu_ns_per_request":
                                      used / requests})
                if netlens:
                    netlens.send_signal(signal.SIGTERM)
                    netlens.wait(10)
        # The probe's own run time, with bpf_stats on.
        subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=1"], check=True)
        netlens, _ = start_netlens(a.netlens, work, PHASES_CONFIG)
        count0, ns0 = probe_runs()
        requests, _ = wrk(url, a.duration)
        count1, ns1 = probe_runs()
        netlens.send_signal(signal.SIGTERM)
        netlens.wait(10)
        subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=0"], check=True)
        probe = {"requests": requests, "probe_runs": count1 - count0,
                 "bpf_ns_per_run": (ns1 - ns0) / max(count1 - count0, 1)}
    finally:
        nginx.send_signal(signal.SIGQUIT)
        nginx.wait(10)
        shutil.rmtree(work, ignore_errors=True)

    def median(mode, key):
        return statistics.median(r[key] for r in results[mode])

    base_cpu, base_rate = median("none", "nginx_cpu_ns_per_request"), median("none", "requests_per_s")
    summary = {m: {"requests_per_s": median(m, "requests_per_s"),
                   "nginx_cpu_ns_per_request": median(m, "nginx_cpu_ns_per_request"),
                   "throughput_ratio": median(m, "requests_per_s") / base_rate,
                   "cpu_ratio": median(m, "nginx_cpu_ns_per_request") / base_cpu}
               for m in results}
    report = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "kernel": os.uname().release, "rounds": a.rounds, "duration_s": a.duration,
              "runs": results, "medians": summary, "probe": probe}
    lines = [f"nginx_phases cost, {report['started']}, kernel {report['kernel']}: nginx 1 worker, "
             f"wrk -t1 -c16 keep-alive, {a.rounds} interleaved rounds of {a.duration} s, medians",
             "", "| mode | requests/s | nginx CPU ns/request | throughput vs none | CPU vs none |",
             "| --- | --- | --- | --- | --- |"]
    for m, s in summary.items():
        lines.append(f"| {m} | {s['requests_per_s']:.0f} | {s['nginx_cpu_ns_per_request']:.0f} | "
                     f"{s['throughput_ratio']:.3f} | {s['cpu_ratio']:.3f} |")
    empty = summary["empty_uprobe"]["nginx_cpu_ns_per_request"] - base_cpu
    phases = summary["netlens+phases"]["nginx_cpu_ns_per_request"] - summary["netlens"][
        "nginx_cpu_ns_per_request"]
    at_entry = summary["netlens+phases@entry"]["nginx_cpu_ns_per_request"] - summary["netlens"][
        "nginx_cpu_ns_per_request"]
    report["probe_vs_empty_uprobe"] = phases / empty if empty > 0 else None
    report["probe_at_entry_vs_empty_uprobe"] = at_entry / empty if empty > 0 else None
    lines += ["", f"nginx CPU per request added by an empty uprobe: {empty:.0f} ns; by "
              f"nginx_phases (netlens+phases - netlens): {phases:.0f} ns"
              + (f" ({phases / empty:.2f}x the empty uprobe)" if empty > 0 else "")
              + f"; at the entry: {at_entry:.0f} ns"
              + (f" ({at_entry / empty:.2f}x)" if empty > 0 else "")]
    lines += ["", f"Probe (bpf_stats on, one run): {probe['probe_runs']} runs for "
              f"{probe['requests']} requests, {probe['bpf_ns_per_run']:.0f} ns of BPF per run."]
    write_report(a.out_dir, "nginx_phases", report, lines)


if __name__ == "__main__":
    main()
