#!/usr/bin/env python3
"""What the service map costs: nginx (1 worker) under wrk with `Connection: close` (a connection
per request, the service map's worst case), interleaved rounds of
  netlens             netlens with its default config (TCP accounting only)
  netlens+map         the same plus service_map.enabled (each closed connection handed to user
                      space through tcp_closed, paired and named there)
with kernel.bpf_stats_enabled=1 throughout: per round, the BPF run time of all netlens programs
per request (the stable cost figure), netlens' own CPU per request (utime+stime, scrapes every
second included), its peak RSS and requests/s; medians over the rounds.
With --with-http (report service_map_http), two more modes, to price requests per edge:
  netlens+http        http_requests parsing nginx's and wrk's HTTP
  netlens+map+http    both: each exchange also attributed to its edge

  bench/service_map.py --netlens build/netlens --out-dir bench/results [--rounds 5] [--with-http]
"""
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

from nginx_phases import (arguments, cpu_ns, start_netlens, start_nginx, wait_http,
                          write_report)


MAP_CONFIG = "service_map:\n  enabled: true\n"
HTTP_CONFIG = "http_requests:\n  processes:\n    include:\n      - comm: nginx\n      - comm: wrk\n"
CONFIGS = {"netlens": "", "netlens+map": MAP_CONFIG, "netlens+http": HTTP_CONFIG,
           "netlens+map+http": MAP_CONFIG + HTTP_CONFIG}


def netlens_run_ns():
    out = subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True, text=True,
                         check=True).stdout
    return sum(p.get("run_time_ns", 0) for p in json.loads(out)
               if p.get("name", "").startswith("nl_"))


def scrape_every_second(port, stop):
    while not stop.wait(1.0):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
        except OSError:
            pass


def wrk_close(url, duration):
    out = subprocess.run(["wrk", "-t1", "-c16", f"-d{duration}s", "-H", "Connection: close", url],
                         capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    return requests, float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def main():
    with_http = "--with-http" in sys.argv
    if with_http:
        sys.argv.remove("--with-http")
    a = arguments()
    work, url, nginx = start_nginx("nl-map-bench.", "off")
    results = {"netlens": [], "netlens+map": []}
    if with_http:
        results.update({"netlens+http": [], "netlens+map+http": []})
    subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=1"], check=True)
    try:
        wait_http(url)
        wrk_close(url, 2)  # warm-up
        for _ in range(a.rounds):
            for mode in results:
                netlens, netlens_port = start_netlens(
                    a.netlens, work, CONFIGS[mode])
                stop = threading.Event()
                scraper = threading.Thread(target=scrape_every_second, args=(netlens_port, stop))
                scraper.start()
                bpf0, cpu0 = netlens_run_ns(), cpu_ns(netlens.pid)
                requests, rate = wrk_close(url, a.duration)
                time.sleep(1.5)  # the last connections' closes and a scrape
                bpf1, cpu1 = netlens_run_ns(), cpu_ns(netlens.pid)
                stop.set()
                scraper.join()
                hwm = int(re.search(r"VmHWM:\s+(\d+)", open(f"/proc/{netlens.pid}/status").read())
                          .group(1))
                results[mode].append({"requests": requests, "requests_per_s": rate,
                                      "bpf_ns_per_request": (bpf1 - bpf0) / requests,
                                      "netlens_cpu_ns_per_request": (cpu1 - cpu0) / requests,
                                      "netlens_peak_rss_kib": hwm})
                netlens.send_signal(signal.SIGTERM)
                netlens.wait(10)
    finally:
        subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=0"], check=True)
        nginx.send_signal(signal.SIGQUIT)
        nginx.wait(10)
        shutil.rmtree(work, ignore_errors=True)

    def median(mode, key):
        return statistics.median(r[key] for r in results[mode])

    keys = ("requests_per_s", "bpf_ns_per_request", "netlens_cpu_ns_per_request",
            "netlens_peak_rss_kib")
    summary = {m: {k: median(m, k) for k in keys} for m in results}
    for k in keys:
        summary["netlens+map"][k + "_ratio"] = summary["netlens+map"][k] / summary["netlens"][k]
    report = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "kernel": os.uname().release, "rounds": a.rounds, "duration_s": a.duration,
              "runs": results, "medians": summary}
    lines = [f"service_map cost, {report['started']}, kernel {report['kernel']}: nginx 1 worker, "
             f"wrk -t1 -c16 Connection: close, bpf_stats on, scrapes every second, {a.rounds} "
             f"interleaved rounds of {a.duration} s, medians",
             "", "| mode | requests/s | BPF ns/request | netlens CPU ns/request | netlens peak RSS "
             "KiB |", "| --- | --- | --- | --- | --- |"]
    for m, s in summary.items():
        lines.append(f"| {m} | {s['requests_per_s']:.0f} | {s['bpf_ns_per_request']:.0f} | "
                     f"{s['netlens_cpu_ns_per_request']:.0f} | {s['netlens_peak_rss_kib']:.0f} |")
    on = summary["netlens+map"]
    lines += ["", f"netlens+map / netlens: BPF {on['bpf_ns_per_request_ratio']:.3f}x, netlens "
              f"CPU {on['netlens_cpu_ns_per_request_ratio']:.3f}x, requests/s "
              f"{on['requests_per_s_ratio']:.3f}x"]
    if with_http:
        http, both = summary["netlens+http"], summary["netlens+map+http"]
        lines += [f"netlens+map+http - netlens+http (the map and the request attribution, with "
                  f"HTTP parsed): netlens CPU "
                  f"{both['netlens_cpu_ns_per_request'] - http['netlens_cpu_ns_per_request']:.0f}"
                  f" ns/request, BPF "
                  f"{both['bpf_ns_per_request'] - http['bpf_ns_per_request']:.0f} ns/request"]
    write_report(a.out_dir, "service_map_http" if with_http else "service_map", report, lines)


if __name__ == "__main__":
    main()
