#!/usr/bin/python3
"""Soak run: the real netlens under connection and process churn for a given time, with nothing
lost and memory that levels off.

  soak.py --build BUILD_DIR --duration SECONDS --out DIR [--hup-every 60] [--margin 0.25]
          [--rss-margin 0.50] [--max-rss-mib 256] [--max-map-entries 20000]
          [--max-series 150000] [--accounting kernel|events] [--no-level-off]
          [--exactness-not-checked]

As root, starts BUILD_DIR/netlens watching only the generators' comms (targets), then until the
duration is over, at once:
- nl-burst runs back to back: thousands of short-lived client processes (pid reuse: the pids
  wrap around kernel.pid_max), each connecting, sending 1000 bytes and exiting;
- nl-traffic runs back to back: 500 loopback connections per run, one request and response each;
- SIGHUP to netlens every --hup-every seconds (each reload must succeed, counters kept);
- a scrape of /metrics every second: netlens' RSS, its BPF map entries (netlens_map_entries),
  the series it exposes (netlens_series), the scrape's time, and every traffic and connection
  counter of the generators.

Checks, at the end, once the generators are done and their connections closed:
- exact totals: bytes sent/received, send/receive calls (--accounting events only: kernel
  accounting counts no calls), connections opened/closed, summed over
  every series netlens showed, equal the generators' own counts. A series of an exited process
  is dropped after process_ttl (2 s), so the run's total of a series is its last value before it
  went away; a series whose pid is reused starts again after such an absence.
  --exactness-not-checked reports them, and whether every connection closed at the end,
  without failing (the ctest version, until the loss of
  about 0.2% of short-lived clients' connections seen in 150 s runs is fixed: docs/performance.md).
  The kernel's skipped BPF runs (netlens_program_missed_runs_total) are recorded next to them.
  A loss is "explained by unread folds" when the connections are exact and the bytes short are
  what at most netlens_kernel_unread_folds_total connection ends carried (each such fold loses
  one end's bytes: nl-traffic's 200/300 or 300/200, nl-burst's 1000/0 or 0/1000), and
  "unexplained" otherwise; only the second fails "no unexplained loss" ("exact totals" fails
  on either).
- monotonic: no series present in two consecutive scrapes went down;
- levelled off: over the last third of the run, the 90th percentile of the map entries and of
  the series is at most (1 + margin) times that over the first third (+ 200, for a short run's
  first seconds), and that of RSS at most (1 + rss-margin) times: RSS follows the size of the
  scrape being built when it is read, and glibc gives each HTTP worker thread that serves a
  scrape an arena of its own, so it wobbles more. --no-level-off leaves these out (reported
  only): a run of a few minutes is mostly its warm-up, and its thirds say nothing of a trend;
- bounded, always: RSS, the map entries and the series never above max-rss-mib,
  max-map-entries and max-series (a 10-minute run peaks at 96 MiB, 7,742 entries and 50,582
  series; a leak of one entry or series per process passes these within a couple of minutes).

Writes DIR/soak.json (every sample and the results) and DIR/soak.png (four panels over time).
Exit status: 0 when every check passed, 1 otherwise, 77 when not root (skipped) unless CI=true.
"""

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

TRAFFIC_FAMILIES = (
    "netlens_tcp_sent_bytes_total",
    "netlens_tcp_received_bytes_total",
    "netlens_tcp_send_calls_total",
    "netlens_tcp_receive_calls_total",
    "netlens_tcp_connections_opened_total",
    "netlens_tcp_connections_closed_total",
)
BURST_PROCESSES = 2000  # per nl-burst run
BURST_BYTES = 1000
TRAFFIC_CONNECTIONS = 500  # per nl-traffic run
TRAFFIC_REQUEST = 200
TRAFFIC_RESPONSE = 300
SLACK_ENTRIES = 200  # absolute slack of the level-off check for map entries and series
NO_UNEXPLAINED_LOSS = "no unexplained loss (exact, or short only by what unread folds lose)"

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def key_values(text):
    """key=value lines of a helper's output."""
    values = {}
    for line in text.splitlines():
        if "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


class Generators:
    """Runs nl-burst and nl-traffic back to back until stopped; adds up what they report."""

    def __init__(self, build, burst_comm, traffic_comm):
        self.build = build
        self.burst_comm = burst_comm
        self.traffic_comm = traffic_comm
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.expected = {family: 0 for family in TRAFFIC_FAMILIES}
        self.processes = 0  # short-lived processes started (burst clients and servers, helpers)
        self.connections = 0  # connections opened, both ends counted once
        self.errors = []
        self.threads = [threading.Thread(target=self._burst_loop, daemon=True),
                        threading.Thread(target=self._traffic_loop, daemon=True)]

    def start(self):
        for thread in self.threads:
            thread.start()

    def running(self):
        return any(thread.is_alive() for thread in self.threads)

    def finish(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=300)

    def _add(self, counts, processes, connections):
        with self.lock:
            for family, value in counts.items():
                self.expected[family] += value
            self.processes += processes
            self.connections += connections

    def _burst_loop(self):
        while not self.stop.is_set():
            run = subprocess.run(
                [os.path.join(self.build, "test/nl-burst"), "--comm", self.burst_comm,
                 "--processes", str(BURST_PROCESSES), "--bytes", str(BURST_BYTES),
                 "--parallel", "50"], capture_output=True, text=True, timeout=600)
            report = key_values(run.stdout)
            if run.returncode != 0 or "received" not in report:
                self.errors.append(f"nl-burst: exit {run.returncode}: {run.stderr.strip()}")
                return
            # Each client sends its bytes in one call; both ends open and close each connection.
            self._add({
                "netlens_tcp_sent_bytes_total": BURST_PROCESSES * BURST_BYTES,
                "netlens_tcp_received_bytes_total": int(report["received"]),
                "netlens_tcp_send_calls_total": BURST_PROCESSES,
                "netlens_tcp_receive_calls_total": int(report["receive_calls"]),
                "netlens_tcp_connections_opened_total": 2 * BURST_PROCESSES,
                "netlens_tcp_connections_closed_total": 2 * BURST_PROCESSES,
            }, BURST_PROCESSES + 1, BURST_PROCESSES)

    def _traffic_loop(self):
        while not self.stop.is_set():
            run = subprocess.run(
                [os.path.join(self.build, "test/nl-traffic"), "--comm", self.traffic_comm,
                 "--connections", str(TRAFFIC_CONNECTIONS), "--rounds", "1",
                 "--request", str(TRAFFIC_REQUEST), "--response", str(TRAFFIC_RESPONSE)],
                capture_output=True, text=True, timeout=600)
            report = key_values(run.stdout)
            if run.returncode != 0 or "done" not in run.stdout:
                self.errors.append(f"nl-traffic: exit {run.returncode}: {run.stderr.strip()}")
                return
            n = TRAFFIC_CONNECTIONS
            self._add({
                "netlens_tcp_sent_bytes_total": n * (TRAFFIC_REQUEST + TRAFFIC_RESPONSE),
                "netlens_tcp_received_bytes_total": n * (TRAFFIC_REQUEST + TRAFFIC_RESPONSE),
                "netlens_tcp_send_calls_total":
                    int(report["client_send_calls"]) + int(report["server_send_calls"]),
                "netlens_tcp_receive_calls_total":
                    int(report["client_recv_calls"]) + int(report["server_recv_calls"]),
                "netlens_tcp_connections_opened_total": 2 * n,
                "netlens_tcp_connections_closed_total": 2 * n,
            }, 2, n)


class Ledger:
    """Every series of the counted families across scrapes: the run's total of each (banked
    when a series goes away), and any decrease between two consecutive scrapes."""

    def __init__(self):
        self.last = {}  # (family, labels) -> value in the previous scrape
        self.banked = {family: 0.0 for family in TRAFFIC_FAMILIES}
        self.decreases = []
        self.lifetimes = 0

    def update(self, series, when):
        for key, value in series.items():
            previous = self.last.get(key)
            if previous is None:
                self.lifetimes += 1
            elif value < previous:
                self.decreases.append({"t": when, "series": f"{key[0]}{key[1]}",
                                       "from": previous, "to": value})
        for key, value in self.last.items():
            if key not in series:  # dropped (process_ttl): its last value is its total
                self.banked[key[0]] += value
        self.last = dict(series)

    def totals(self):
        totals = dict(self.banked)
        for (family, _), value in self.last.items():
            totals[family] += value
        return totals


def scrape(port):
    started = time.monotonic()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        text = response.read().decode()
    return text, time.monotonic() - started


def parse(text):
    """(counted series, self metrics) of a scrape."""
    series = {}
    gauges = {"map_entries": {}, "series": 0.0, "folded": 0.0, "open": 0.0, "missed_runs": 0.0,
              "missed_by_program": {}, "unread_folds": 0.0, "nested_state_changes": 0.0, "scrape_duration": 0.0, "reloads_success": 0.0,
              "reloads_failure": 0.0}
    for line in text.splitlines():
        if not line.startswith("netlens_"):
            continue
        match = SAMPLE_RE.match(line)
        if not match:
            continue
        name, labels, value = match.group(1), match.group(2) or "", float(match.group(3))
        if name in TRAFFIC_FAMILIES:
            series[(name, labels)] = value
        elif name == "netlens_map_entries":
            gauges["map_entries"][dict(LABEL_RE.findall(labels))["map"]] = value
        elif name == "netlens_series":
            gauges["series"] += value
        elif name == "netlens_program_missed_runs_total":
            gauges["missed_runs"] += value
            program = dict(LABEL_RE.findall(labels)).get("program", "")
            gauges["missed_by_program"][program] = value
        elif name == "netlens_kernel_unread_folds_total":
            gauges["unread_folds"] = value
        elif name == "netlens_kernel_nested_state_changes_total":
            gauges["nested_state_changes"] = value
        elif name == "netlens_series_folded":
            gauges["folded"] += value
        elif name == "netlens_tcp_connections_open":
            gauges["open"] += value
        elif name == "netlens_scrape_duration_seconds":
            gauges["scrape_duration"] = value
        elif name == "netlens_config_reloads_total":
            result = dict(LABEL_RE.findall(labels)).get("result")
            gauges[f"reloads_{result}"] = value
    return series, gauges


# The (sent, received) bytes of one connection end of each generator: an unread fold
# (netlens_kernel_unread_folds_total) loses exactly one of these, its connection still counted.
CONNECTION_ENDS = (
    (TRAFFIC_REQUEST, TRAFFIC_RESPONSE),  # nl-traffic client
    (TRAFFIC_RESPONSE, TRAFFIC_REQUEST),  # nl-traffic server
    (BURST_BYTES, 0),  # nl-burst client
    (0, BURST_BYTES),  # nl-burst server
)


def explained_by_unread_folds(short_sent, short_received, folds):
    """Whether bytes short by (sent, received) are what at most `folds` unread folds lose: a sum of
    at most that many CONNECTION_ENDS (how many of each, when so; None otherwise)."""
    if short_sent < 0 or short_received < 0:
        return None
    (a_s, a_r), (b_s, b_r), (c_s, _), (_, d_r) = CONNECTION_ENDS
    for a in range(int(folds) + 1):
        for b in range(int(folds) - a + 1):
            sent_left = short_sent - a * a_s - b * b_s
            received_left = short_received - a * a_r - b * b_r
            if sent_left < 0 or received_left < 0:
                break
            if sent_left % c_s or received_left % d_r:
                continue
            c, d = sent_left // c_s, received_left // d_r
            if a + b + c + d <= folds:
                return {"traffic_client": a, "traffic_server": b, "burst_client": int(c),
                        "burst_server": int(d)}
    return None


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def p90(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]


def levelled(values, margin, slack=0.0):
    """(p90 of the first third, p90 of the last third, within margin). The 90th percentile,
    not the maximum: the load comes in bursts (an nl-burst run, then the next), and one
    scrape that lands on a burst's peak says nothing about a trend."""
    third = max(1, len(values) // 3)
    first, last = p90(values[:third]), p90(values[-third:])
    return first, last, last <= first * (1 + margin) + slack


def plot(samples, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    t = [s["t"] / 60 for s in samples]
    fig, axes = plt.subplots(4, 1, figsize=(10, 11), sharex=True)
    axes[0].plot(t, [s["rss_kib"] / 1024 for s in samples])
    axes[0].set_ylabel("netlens RSS (MiB)")
    for name in sorted({m for s in samples for m in s["map_entries"]}):
        values = [s["map_entries"].get(name, 0) for s in samples]
        if max(values) > 0:
            axes[1].plot(t, values, label=name)
    axes[1].set_ylabel("BPF map entries")
    axes[1].legend(fontsize=7, ncol=3)
    axes[2].plot(t, [s["series"] for s in samples])
    axes[2].set_ylabel("series exposed")
    axes[3].plot(t, [s["scrape_s"] * 1000 for s in samples], label="HTTP GET /metrics")
    axes[3].plot(t, [s["scrape_duration_s"] * 1000 for s in samples],
                 label="netlens_scrape_duration_seconds")
    axes[3].set_ylabel("scrape time (ms)")
    axes[3].set_xlabel("minutes")
    axes[3].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", required=True, help="the build directory (netlens, test/)")
    parser.add_argument("--duration", type=float, required=True, help="seconds of load")
    parser.add_argument("--out", required=True, help="directory for soak.json and soak.png")
    parser.add_argument("--hup-every", type=float, default=60.0)
    parser.add_argument("--margin", type=float, default=0.25)
    parser.add_argument("--rss-margin", type=float, default=0.50)
    parser.add_argument("--max-rss-mib", type=float, default=256.0)
    parser.add_argument("--max-map-entries", type=float, default=20000.0)
    parser.add_argument("--max-series", type=float, default=150000.0)
    parser.add_argument("--exactness-not-checked", action="store_true",
                        help="report the totals against the generators without failing on them")
    parser.add_argument("--accounting", choices=("kernel", "events"), default="kernel",
                        help="netlens' accounting; kernel (the default) counts no calls, so the "
                             "call families are not checked")
    parser.add_argument("--no-level-off", action="store_true",
                        help="report the level-off figures without checking them (short runs)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            print("soak: needs root (CI=true: failing)", file=sys.stderr)
            return 1
        print("SKIP: soak needs root to load eBPF programs")
        return 77
    os.makedirs(args.out, exist_ok=True)

    suffix = str(os.getpid() % 100000)
    burst_comm, traffic_comm = f"sk-burst{suffix}", f"sk-traf{suffix}"
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="netlens-soak.")
    config = os.path.join(workdir, "netlens.yaml")
    with open(config, "w") as out:
        # Only the generators are watched, so every family's sum is theirs. process_ttl 2 s:
        # series of exited clients go away (memory levels off); this script is netlens' only
        # scraper, so it sees every series' last value before that. A budget far above the
        # live series: nothing is folded into "other".
        # Two latency bounds keep the histograms small for the 1 s scrapes.
        out.write(f'listen: "127.0.0.1:{port}"\naggregation: remote\nlog_level: info\n'
                  "process_ttl: 2s\nlatency_buckets:\n  min: 1ms\n  max: 2ms\n"
                  "limits:\n  series_per_family: 500000\n  aggregates: 65536\n"
                  f"targets:\n  include:\n    - comm: {burst_comm}\n    - comm: {traffic_comm}\n")
    log = open(os.path.join(args.out, "netlens.log"), "w")
    netlens = subprocess.Popen([os.path.join(args.build, "netlens"), "--config", config,
                                "--accounting", args.accounting],
                               stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while True:
        try:
            scrape(port)
            break
        except OSError:
            if netlens.poll() is not None or time.monotonic() > deadline:
                print(f"soak: netlens did not start (see {log.name})", file=sys.stderr)
                netlens.kill()
                return 1
            time.sleep(0.1)

    generators = Generators(args.build, burst_comm, traffic_comm)
    ledger = Ledger()
    samples = []
    hups = 0
    started = time.monotonic()
    next_hup = started + args.hup_every
    generators.start()
    load_end = started + args.duration
    settle_end = None
    results = {}
    try:
        while True:
            tick = time.monotonic()
            # The runs under way finish; scrapes go on meanwhile (a series unseen for
            # process_ttl would be lost to the ledger).
            if tick >= load_end:
                generators.stop.set()
            if generators.stop.is_set() and settle_end is None and not generators.running():
                settle_end = time.monotonic() + 60
            if tick >= next_hup and not generators.stop.is_set():
                netlens.send_signal(signal.SIGHUP)
                hups += 1
                next_hup += args.hup_every
            text, took = scrape(port)
            series, gauges = parse(text)
            ledger.update(series, tick - started)
            samples.append({
                "t": round(tick - started, 3), "rss_kib": rss_kib(netlens.pid),
                "map_entries": gauges["map_entries"], "series": gauges["series"],
                "folded": gauges["folded"], "open": gauges["open"], "scrape_s": round(took, 4),
                "missed_runs": gauges["missed_runs"],
                "missed_by_program": gauges["missed_by_program"],
                "nested_state_changes": gauges["nested_state_changes"],
                "unread_folds": gauges["unread_folds"],
                "scrape_duration_s": gauges["scrape_duration"],
                "reloads_success": gauges["reloads_success"],
                "reloads_failure": gauges["reloads_failure"],
                "load": not generators.stop.is_set(),
            })
            if len(samples) % 30 == 0:
                print(f"soak: t={samples[-1]['t']:.0f}s rss={samples[-1]['rss_kib']} KiB "
                      f"series={gauges['series']:.0f} scrape={took * 1000:.0f} ms", flush=True)
            # Done once the generators are and their connections all closed, two scrapes later.
            if settle_end is not None:
                closed_scrapes = results.get("closed_scrapes", 0)
                results["closed_scrapes"] = closed_scrapes + 1 if gauges["open"] == 0 else 0
                if results["closed_scrapes"] >= 3 or time.monotonic() > settle_end:
                    break
            time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
    finally:
        generators.finish()
        netlens.send_signal(signal.SIGTERM)
        try:
            netlens.wait(timeout=10)
        except subprocess.TimeoutExpired:
            netlens.kill()

    elapsed = samples[-1]["t"]
    counted = ledger.totals()
    load = [s for s in samples if s["load"]]
    maps_total = [sum(s["map_entries"].values()) for s in load]
    rss = levelled([s["rss_kib"] for s in load], args.rss_margin)
    entries = levelled(maps_total, args.margin, SLACK_ENTRIES)
    series_level = levelled([s["series"] for s in load], args.margin, SLACK_ENTRIES)
    scrape_ms = sorted(s["scrape_s"] * 1000 for s in samples)
    checked = [f for f in TRAFFIC_FAMILIES if args.accounting == "events" or "_calls_" not in f]
    exact = all(counted[f] == generators.expected[f] for f in checked)
    # The kernel skips a BPF run that would nest into another on the same CPU and counts it
    # (netlens_program_missed_runs_total, docs/metrics.md): a connection whose runs were missed
    # can lose its count. The largest shortfall of one family, in connections.
    missed_runs = samples[-1]["missed_runs"] - samples[0]["missed_runs"]
    shortfall = max(
        (generators.expected[f] - counted[f]) / (BURST_BYTES if "bytes" in f else 1)
        for f in checked)
    # Kernel accounting: folds that read no counters lose one connection's bytes each, its
    # connection counted (docs/metrics.md). A loss of exactly such bytes is explained by them;
    # anything else (a connection short, bytes no set of them adds up to) is not.
    unread_folds = samples[-1]["unread_folds"] - samples[0]["unread_folds"]
    connections_exact = all(counted[f] == generators.expected[f]
                            for f in checked if "connections" in f)
    short_bytes = tuple(generators.expected[f] - counted[f] for f in (
        "netlens_tcp_sent_bytes_total", "netlens_tcp_received_bytes_total"))
    unread_ends = explained_by_unread_folds(*short_bytes, unread_folds) \
        if connections_exact else None
    loss = "none" if exact else ("explained by unread folds" if unread_ends is not None
                                 else "unexplained")
    checks = {
        "generators ran without error": not generators.errors,
        "exact totals": exact,
        NO_UNEXPLAINED_LOSS: loss != "unexplained",
        "no counter went down": not ledger.decreases,
        "nothing folded into other": all(s["folded"] == 0 for s in samples),
        "every reload succeeded": samples[-1]["reloads_success"] == hups
        and samples[-1]["reloads_failure"] == 0,
        "connections all closed at the end": samples[-1]["open"] == 0,
        f"RSS below {args.max_rss_mib:.0f} MiB": max(s["rss_kib"] for s in samples)
        <= args.max_rss_mib * 1024,
        f"map entries below {args.max_map_entries:.0f}":
            max(sum(s["map_entries"].values()) for s in samples) <= args.max_map_entries,
        f"series below {args.max_series:.0f}":
            max(s["series"] for s in samples) <= args.max_series,
    }
    if not args.no_level_off:
        checks.update({
            f"RSS levelled off (last third p90 <= first third p90 x {1 + args.rss_margin})":
                rss[2],
            f"map entries levelled off (p90, x {1 + args.margin} + {SLACK_ENTRIES})": entries[2],
            f"series levelled off (p90, x {1 + args.margin} + {SLACK_ENTRIES})": series_level[2],
        })
    results.update({
        "duration_s": args.duration, "elapsed_s": elapsed, "scrapes": len(samples),
        "sighups": hups, "processes": generators.processes,
        "connections": generators.connections,
        "connections_per_s": round(generators.connections / args.duration, 1),
        "processes_per_s": round(generators.processes / args.duration, 1),
        "expected": generators.expected, "counted": counted, "exact": exact,
        "missed_program_runs": missed_runs,
        "missed_runs_by_program": {
            program: runs - samples[0]["missed_by_program"].get(program, 0.0)
            for program, runs in samples[-1]["missed_by_program"].items() if runs},
        # Of nl_state_tp_btf's misses, those its nested stand-in took (counted, not lost).
        "nested_state_changes":
            samples[-1]["nested_state_changes"] - samples[0]["nested_state_changes"],
        "unread_folds": unread_folds, "loss": loss, "short_bytes": short_bytes,
        "unread_fold_ends": unread_ends,
        "decreases": ledger.decreases[:20], "series_lifetimes": ledger.lifetimes,
        "rss_kib": {"first_third_p90": rss[0], "last_third_p90": rss[1],
                    "max": max(s["rss_kib"] for s in samples), "end": samples[-1]["rss_kib"]},
        "map_entries": {"first_third_p90": entries[0], "last_third_p90": entries[1],
                        "peak_by_map": {m: max(s["map_entries"].get(m, 0) for s in samples)
                                        for m in samples[-1]["map_entries"]}},
        "series": {"first_third_p90": series_level[0], "last_third_p90": series_level[1],
                   "max": max(s["series"] for s in samples)},
        "scrape_ms": {"median": round(scrape_ms[len(scrape_ms) // 2], 1),
                      "p99": round(scrape_ms[int(len(scrape_ms) * 0.99)], 1),
                      "max": round(scrape_ms[-1], 1)},
        "margin": args.margin, "rss_margin": args.rss_margin,
        "levelled_off": {"rss": rss[2], "map_entries": entries[2], "series": series_level[2]},
        "checks": checks, "errors": generators.errors,
    })
    with open(os.path.join(args.out, "soak.json"), "w") as out:
        json.dump({"results": results, "samples": samples}, out, indent=1)
    plot(samples, os.path.join(args.out, "soak.png"),
         f"netlens soak: {args.duration / 60:.0f} min, {results['connections_per_s']:.0f} "
         f"connections/s, {results['processes_per_s']:.0f} processes/s")

    if args.exactness_not_checked:
        # The same loss leaves a connection open now and then (its CLOSE uncounted).
        checks.pop("exact totals")
        checks.pop(NO_UNEXPLAINED_LOSS)
        closed = checks.pop("connections all closed at the end")
        print(f"soak: {'exact' if exact else 'NOT EXACT (not checked)'} totals; kernel missed "
              f"{missed_runs:.0f} program runs; short by up to {shortfall:.0f} connections; "
              f"{unread_folds:.0f} unread folds; loss: {loss}; "
              f"{'all' if closed else 'NOT all (not checked)'} connections closed at the end")
    for name, ok in checks.items():
        print(f"soak: {'ok    ' if ok else 'FAILED'} {name}")
    print(f"soak: loss: {loss} (bytes short: sent {short_bytes[0]:.0f}, received "
          f"{short_bytes[1]:.0f}; {unread_folds:.0f} unread folds"
          f"{', as ' + json.dumps(unread_ends) if unread_ends and loss != 'none' else ''})")
    summary = {k: results[k] for k in ("exact", "loss", "missed_program_runs", "unread_folds",
                                       "elapsed_s", "scrapes",
                                       "sighups", "processes",
                                       "connections_per_s", "processes_per_s", "rss_kib",
                                       "map_entries", "series", "scrape_ms")}
    print("soak: " + json.dumps(summary))
    for family in checked:
        print(f"soak: {family}: expected {generators.expected[family]}, counted "
              f"{counted[family]:.0f}")
    if ledger.decreases:
        print("soak: decreases: " + json.dumps(ledger.decreases[:5]))
    print(f"soak: {args.out}/soak.json, {args.out}/soak.png")
    failed = sum(not ok for ok in checks.values())
    print(f"{len(checks) - failed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
