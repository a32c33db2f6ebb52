"""What the request-parsing benchmarks share (bench/mysql.py, bench/grpc.py): interleaved
rounds of a load against one server per mode
  none               no netlens
  netlens            netlens with its default config (TCP accounting only)
  netlens+<parser>   netlens with the parser's config
with kernel.bpf_stats_enabled=0 during the timed rounds (it adds cost), then one round per
netlens mode with it on for the BPF run time of all netlens programs per unit; medians over
the rounds, and the report's table.
"""
import argparse
import os
import signal
import statistics
import subprocess
import time

from nginx_phases import cpu_ns, start_netlens, write_report
from service_map import netlens_run_ns


def arguments(add_own):
    """--netlens, --out-dir, --rounds and the benchmark's own (add_own(parser))."""
    parser = argparse.ArgumentParser()
    for name in ("--netlens", "--out-dir"):
        parser.add_argument(name, required=True)
    parser.add_argument("--rounds", type=int, default=5)
    add_own(parser)
    return parser.parse_args()


def run_rounds(netlens_binary, work, parser_mode, parser_config, rounds, server_pid, load,
               units):
    """load() runs one round's load and returns its seconds; units: what it makes (queries,
    calls). Returns (runs per mode, BPF ns per unit per netlens mode)."""
    modes = ("none", "netlens", parser_mode)
    results = {m: [] for m in modes}
    bpf = {}
    subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=0"], check=True)
    try:
        for round_index in range(rounds + 1):
            timing = round_index < rounds  # the last round: bpf_stats on, netlens modes only
            if not timing:
                subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=1"], check=True)
            for mode in modes:
                if not timing and mode == "none":
                    continue
                netlens = None
                if mode != "none":
                    config = parser_config if mode == parser_mode else ""
                    netlens, _ = start_netlens(netlens_binary, work, config)
                    time.sleep(1.5)  # the first scan of the watched processes
                own = (lambda: cpu_ns(netlens.pid)) if netlens else (lambda: 0)
                bpf0, cpu0, own0 = netlens_run_ns(), cpu_ns(server_pid), own()
                seconds = load()
                time.sleep(0.3)  # the capture's last drain
                bpf1, cpu1, own1 = netlens_run_ns(), cpu_ns(server_pid), own()
                if timing:
                    results[mode].append({"per_s": units / seconds,
                                          "server_cpu_ns": (cpu1 - cpu0) / units,
                                          "netlens_cpu_ns": (own1 - own0) / units})
                else:
                    bpf[mode] = (bpf1 - bpf0) / units
                if netlens:
                    netlens.send_signal(signal.SIGTERM)
                    netlens.wait(10)
    finally:
        subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=0"], check=True)
    return results, bpf


def report(out_dir, name, title, unit, server, setup, results, bpf):
    """Medians and the table (unit: "query", "call"; server: the server's name) into
    out_dir/name.{json,md}."""
    keys = ("per_s", "server_cpu_ns", "netlens_cpu_ns")
    modes = list(results)
    summary = {m: {k: statistics.median(r[k] for r in results[m]) for k in keys} for m in modes}
    for m in modes:
        for k in keys[:2]:
            summary[m][k + "_vs_none"] = summary[m][k] / summary["none"][k]
    units = unit[:-1] + "ies" if unit.endswith("y") else unit + "s"
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    document = dict(setup, started=started, kernel=os.uname().release, runs=results,
                    medians=summary, bpf_ns_per_unit=bpf, unit=unit)
    lines = [f"{title}, {started}, kernel {document['kernel']}: interleaved rounds (bpf_stats "
             "off), medians; BPF time from one more round with bpf_stats on", "",
             f"| mode | {units}/s | vs none | {server} CPU ns/{unit} | vs none | BPF ns/{unit} | "
             f"netlens CPU ns/{unit} |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for m in modes:
        s = summary[m]
        b = f"{bpf[m]:.0f}" if m in bpf else "-"
        lines.append(f"| {m} | {s['per_s']:.0f} | {s['per_s_vs_none']:.3f} | "
                     f"{s['server_cpu_ns']:.0f} | {s['server_cpu_ns_vs_none']:.3f} | {b} | "
                     f"{s['netlens_cpu_ns']:.0f} |")
    write_report(out_dir, name, document, lines)
