#!/usr/bin/env python3
"""The hit path alone: the profile programs of two builds (today's ebpf/ and the sk_storage
copy), interleaved, on `nl-bench-traffic rate` (8 long-lived loopback connections, so all but
the first event per socket find the socket storage). bench/run.sh's profile part uses mixed
traffic instead, where every short connection pays one miss (hash lookup + storage create).

  hits.py --loader L --traffic T --main OBJ --alt OBJ [--rounds N] [--seconds S] [--eps E]
          [--programs LIST]

Prints one line per measurement and a summary (ns/event: mean (min-max)) per program."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
from bench import BpfStats, bpf_programs  # noqa: E402  (bench/bench.py)

HELPERS = ["p_state", "p_accept"]


def measure(a, obj, prog):
    loader = subprocess.Popen([a.loader, "--max-seconds", str(int(a.seconds) + 60), obj]
                              + HELPERS + [prog], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        ids = {}
        for line in loader.stdout:
            if line.startswith("prog "):
                _, name, pid_ = line.split()
                ids[name] = int(pid_)
            if line.strip() == "ready":
                break
        if prog not in ids:
            raise SystemExit(f"hits.py: {prog} did not load from {obj}")
        before = bpf_programs()[ids[prog]]
        subprocess.run([a.traffic, "rate", str(a.eps), str(a.seconds)], check=True,
                       capture_output=True, timeout=a.seconds + 30)
        after = bpf_programs()[ids[prog]]
    finally:
        loader.stdin.close()
        loader.wait(timeout=30)
    runs = after.get("run_cnt", 0) - before.get("run_cnt", 0)  # bpftool omits zeros
    return (after.get("run_time_ns", 0) - before.get("run_time_ns", 0)) / runs, runs


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    for opt in ("--loader", "--traffic", "--main", "--alt"):
        p.add_argument(opt, required=True)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--seconds", type=float, default=4)
    p.add_argument("--eps", type=int, default=40000)
    p.add_argument("--programs", default="r_empty,r_lookup,r_full,s_empty,s_lookup,s_full")
    a = p.parse_args()
    stats = BpfStats()
    stats.set(True)
    ns = {}
    try:
        for rnd in range(a.rounds):
            for prog in a.programs.split(","):
                for label, obj in (("main", a.main), ("alt", a.alt)):
                    value, runs = measure(a, obj, prog)
                    ns.setdefault((prog, label), []).append(value)
                    print(f"round {rnd + 1} {label} {prog}: {value:.0f} ns/event ({runs} runs)",
                          flush=True)
    finally:
        stats.set(False)
    summary = {}
    for prog in a.programs.split(","):
        row = {}
        for label in ("main", "alt"):
            v = ns[(prog, label)]
            row[label] = {"mean": statistics.fmean(v), "min": min(v), "max": max(v), "all": v}
        summary[prog] = row
        m, al = row["main"], row["alt"]
        print(f"{prog}: main {m['mean']:.0f} ({m['min']:.0f}-{m['max']:.0f})  alt "
              f"{al['mean']:.0f} ({al['min']:.0f}-{al['max']:.0f})  alt - main "
              f"{al['mean'] - m['mean']:+.0f}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
