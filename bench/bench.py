#!/usr/bin/env python3
"""netlens benchmark harness. Run it through bench/run.sh, which builds the helpers first.

Parts (docs/performance.md explains every number):
  per_request  BPF ns per nginx request (bpf_stats: run time of all a monitor's programs /
               requests): netlens (kernel accounting), netlens --accounting events, the
               bpftrace per-pid sums, empty programs on the per-event hooks; keep-alive and
               Connection: close, interleaved
  per_event    bpf_stats ns/event of each netlens program (--accounting events) next to an
               empty program on the same hook and the bpftrace equivalent, each attached
               alone, same traffic
  variants     ns/event of prototype send-path programs (bench/bpf/variants.bpf.c)
  profile      ns/event of netlens' send and receive programs cut after each step
               (bench/bpf/profile.bpf.c), on the per_event traffic; not in the default set
               (smoke: r_full and s_full only)
  syscall_tp   ns per getppid() with and without an empty program on the accept hook's
               syscall tracepoint (it puts every system call on the trace path); not in the
               default set
  end_to_end   nginx + wrk: no monitoring (A), netlens (B), bpftrace (C), empty programs (E),
               interleaved; D: --baseline-netlens
  scrape       GET /metrics time and size at ~1k/10k/100k series
  daemon_load  netlens CPU and RSS at idle, ~10k and ~100k events/s
  open_conns   netlens RSS with 10k open connections

Standard library only. Every process it starts is stopped by pid on exit.
"""
import argparse
import ctypes
import datetime
import http.client
import json
import math
import os
import re
import signal
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time

HOOKS = {
    "send": "sock:sock_send_length",
    "recv": "sock:sock_recv_length",
    "state": "sock:inet_sock_set_state",
    "rtx": "tcp:tcp_retransmit_skb",
    "accept4": "syscalls:sys_exit_accept4",
    "destroy": "tcp:tcp_destroy_sock",
}
PROG_TYPE_MODE = {"tracing": "tp_btf", "tracepoint": "tracepoint", "raw_tracepoint": "raw_tp"}
TRACING_TYPES = ("tracing", "tracepoint", "raw_tracepoint", "kprobe", "perf_event")

# Empty programs on every hook netlens uses on this kernel (tp_btf where it prefers it).
EMPTY_ON_HOOKS = ["empty_send_btf", "empty_recv_btf", "empty_state_btf", "empty_destroy_btf",
                  "empty_rtx_tp", "empty_accept4_tp"]

# Empty baselines: (hook, attach mode) -> program in bench/bpf/empty.bpf.c.
EMPTY = {
    ("sock:sock_send_length", "tp_btf"): "empty_send_btf",
    ("sock:sock_recv_length", "tp_btf"): "empty_recv_btf",
    ("sock:inet_sock_set_state", "tp_btf"): "empty_state_btf",
    ("tcp:tcp_destroy_sock", "tp_btf"): "empty_destroy_btf",
    ("tcp:tcp_retransmit_skb", "tracepoint"): "empty_rtx_tp",
    ("syscalls:sys_exit_accept4", "tracepoint"): "empty_accept4_tp",
    ("sock:sock_send_length", "tracepoint"): "empty_send_tp",
    ("sock:sock_recv_length", "tracepoint"): "empty_recv_tp",
}

VARIANTS = [
    ("v_empty", "empty program (baseline)"),
    ("v_core_tcp", "TCP check with BPF_CORE_READ (2 bpf_probe_read_kernel calls)"),
    ("v_direct_tcp", "TCP check with direct BTF loads"),
    ("v_pcpu_array", "direct check + per-CPU array[0] + 2 plain adds (floor: no key, no sharing)"),
    ("v_array_atomic", "direct check + array[0] + 2 atomic adds (one host-wide counter)"),
    ("v_hash_lookup", "direct check + hash[sock] lookup only (no write)"),
    ("v_hash_core_atom", "CO-RE check + hash[sock] lookup + 2 atomic adds (netlens' shape)"),
    ("v_hash_atomic", "direct check + hash[sock] + 2 atomic adds"),
    ("v_hash_plain", "direct check + hash[sock] + 2 plain adds"),
    ("v_pcpu_hash", "direct check + per-CPU hash[sock] + 2 plain adds"),
    ("v_sks_atomic", "direct check + sk_storage + 2 atomic adds"),
    ("v_sks_plain", "direct check + sk_storage + 2 plain adds"),
    ("v_pid_hash", "direct check + hash[pid] + 2 atomic adds (bpftrace's accounting as tp_btf)"),
    ("v_netlens", "netlens' nl_on_data_typed() unchanged (= nl_send_tp_btf)"),
    ("v_netlens_core", "v_netlens with the TCP check by CO-RE probe reads (tracepoint mode)"),
]

# Part "profile": (program, hook, what it runs) in bench/bpf/profile.bpf.c. Each is measured
# alone with netlens' state and accept programs (PROFILE_HELPERS), on the per_event traffic.
PROFILE = [
    ("r_empty", "recv", "empty program"),
    ("r_check", "recv", "+ flags, bytes > 0, TCP check (direct loads), target check"),
    ("r_lookup", "recv", "+ conns entry (lookup; owner taken if not yet)"),
    ("r_count", "recv", "+ 2 atomic adds (bytes, calls)"),
    ("r_rtt", "recv", "r_count + RTT sample (no response time)"),
    ("r_response", "recv", "r_count + response time (no RTT sample)"),
    ("r_full", "recv", "everything: nl_recv_tp_btf"),
    ("s_empty", "send", "empty program"),
    ("s_check", "send", "+ bytes > 0, TCP check (direct loads), target check"),
    ("s_lookup", "send", "+ conns entry (lookup; owner taken if not yet)"),
    ("s_count", "send", "+ 2 atomic adds (bytes, calls)"),
    ("s_clock", "send", "s_count + a clock read stored on every event"),
    ("s_record", "send", "s_count + a response-histogram record on every event"),
    ("s_full", "send", "everything: nl_send_tp_btf"),
]
PROFILE_HELPERS = ["p_state", "p_accept"]

BPFTRACE_SCRIPT = """\
// netlens' byte accounting in bpftrace: per-pid bytes sent and received, same filters
// (successful calls, TCP only, no MSG_PEEK / MSG_ERRQUEUE reads).
tracepoint:sock:sock_send_length /args->ret > 0 && args->protocol == 6/
{ @sent[pid] = sum(args->ret); }
tracepoint:sock:sock_recv_length /args->ret > 0 && args->protocol == 6 && (args->flags & 0x2002) == 0/
{ @received[pid] = sum(args->ret); }
"""

HZ = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# ---------------------------------------------------------------- statistics


def summary(values):
    values = [float(v) for v in values]
    if not values:
        raise BenchError("no values to summarise")
    return {
        "mean": statistics.fmean(values),
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "stdev": statistics.stdev(values) if len(values) > 1 else 0.0,
        "n": len(values),
        "runs": values,
    }


def ratio_summary(numerators, denominators):
    """Mean over mean, with the per-round (paired) ratios for the spread."""
    paired = [n / d for n, d in zip(numerators, denominators)]
    out = summary(paired)
    out["mean"] = statistics.fmean(numerators) / statistics.fmean(denominators)
    return out


# ---------------------------------------------------------------- /proc and bpf


def read_file(path):
    with open(path) as f:
        return f.read()


def cpu_ticks(pid):
    """utime + stime of every thread of pid, in clock ticks."""
    stat = read_file(f"/proc/{pid}/stat")
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def cpu_ns(pid):
    """On-CPU time of pid's live threads (schedstat), in ns: finer than clock ticks."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            total += int(read_file(f"/proc/{pid}/task/{tid}/schedstat").split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def status_kib(pid, key):
    for line in read_file(f"/proc/{pid}/status").splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise BenchError(f"no {key} in /proc/{pid}/status")


def children(pid):
    try:
        return [int(p) for p in read_file(f"/proc/{pid}/task/{pid}/children").split()]
    except OSError:
        return []


def owned_programs(pid):
    """(program ids attached through a bpf_link, every program id) held by pid's fds."""
    linked, loaded = set(), set()
    try:
        fds = os.listdir(f"/proc/{pid}/fdinfo")
    except OSError:
        return linked, loaded
    for fd in fds:
        try:
            info = read_file(f"/proc/{pid}/fdinfo/{fd}")
        except OSError:
            continue
        m = re.search(r"^prog_id:\s+(\d+)", info, re.M)
        if not m:
            continue
        (linked if "link_type:" in info else loaded).add(int(m.group(1)))
    return linked, loaded | linked


def bpf_programs():
    out = subprocess.run(["bpftool", "prog", "show", "--json"], check=True,
                         capture_output=True, text=True).stdout
    return {p["id"]: p for p in json.loads(out or "[]")}


# Programs the bench traffic never triggers (nginx and wrk use accept4(2), not accept(2)): left
# out of the per-event table. The kernel keeps 15 characters of a program's name.
IDLE_PROGRAMS = {"nl_accept_exit_tp"}


def hook_of(name):
    for key in ("send", "recv", "state", "destroy"):
        if key in name:
            return HOOKS[key]
    if "rtx" in name or "retransmit" in name:
        return HOOKS["rtx"]
    if "accept4" in name:
        return HOOKS["accept4"]
    raise BenchError(f"cannot tell the hook of program {name}")


class BpfStats:
    """Run-time stats of bpf programs, enabled with bpf(BPF_ENABLE_STATS): the kernel keeps
    them on while any such fd (or the kernel.bpf_stats_enabled sysctl) asks for them, so
    closing ours never turns off what another process turned on, and the sysctl is left
    alone. get() reads the sysctl: whether someone turned them on that way (another process
    holding such an fd cannot be seen)."""

    PATH = "/proc/sys/kernel/bpf_stats_enabled"
    SYS_BPF = {"x86_64": 321, "aarch64": 280}
    BPF_ENABLE_STATS = 32
    BPF_STATS_RUN_TIME = 0

    def __init__(self):
        self.fd = None

    def set(self, on):
        if on and self.fd is None:
            libc = ctypes.CDLL(None, use_errno=True)
            attr = ctypes.create_string_buffer(16)  # union bpf_attr: enable_stats.type = 0
            struct.pack_into("I", attr, 0, self.BPF_STATS_RUN_TIME)
            fd = libc.syscall(self.SYS_BPF[os.uname().machine], self.BPF_ENABLE_STATS, attr,
                              len(attr))
            if fd < 0:
                raise BenchError(f"BPF_ENABLE_STATS: {os.strerror(ctypes.get_errno())}")
            self.fd = fd
        elif not on and self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def get(self):
        return read_file(self.PATH).strip() == "1"

    def restore(self):
        self.set(False)


# ---------------------------------------------------------------- processes


class Procs:
    """Every process the harness starts, so that each is stopped by its pid."""

    def __init__(self):
        self.live = []

    def start(self, argv, **kw):
        kw.setdefault("stdin", subprocess.DEVNULL)
        p = subprocess.Popen(argv, **kw)
        self.live.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM, timeout=15):
        if p.poll() is None:
            try:
                p.send_signal(sig)
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in self.live:
            self.live.remove(p)
        return p.returncode

    def stop_all(self):
        for p in list(reversed(self.live)):
            self.stop(p, timeout=5)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path="/metrics", timeout=60):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        t0 = time.perf_counter()
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        elapsed = time.perf_counter() - t0
        if resp.status != 200:
            raise BenchError(f"GET {path}: HTTP {resp.status}")
        return elapsed, body
    finally:
        conn.close()


def metric_values(body, name):
    """[(labels text, value)] of one metric family in an exposition."""
    out = []
    for line in body.decode(errors="replace").splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            labels, _, value = line.rpartition(" ")
            out.append((labels, float(value)))
    return out


def sample_count(body):
    return sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))


# ---------------------------------------------------------------- the things under test


class Netlens:
    def __init__(self, bench, aggregation="remote", limits=None, name="netlens", binary=None,
                 accounting=None, extra_config=""):
        self.bench = bench
        self.port = free_port()
        self.config = os.path.join(bench.work, f"{name}-{self.port}.yaml")
        lines = [f'listen: "127.0.0.1:{self.port}"', "log_level: warn",
                 f"aggregation: {aggregation}"]
        if limits:
            lines.append("limits:")
            lines += [f"  {k}: {v}" for k, v in limits.items()]
        if extra_config:
            lines.append(extra_config)
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.log_path = os.path.join(bench.work, f"{name}-{self.port}.log")
        self.log = open(self.log_path, "w")
        argv = [binary or bench.args.netlens, "--config", self.config]
        if accounting:  # default: the daemon's own (kernel)
            argv += ["--accounting", accounting]
        self.proc = bench.procs.start(argv, stdout=self.log, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        self._wait_ready()

    def _wait_ready(self):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"netlens exited with {self.proc.returncode}: "
                                 f"{read_file(self.log_path)[-2000:]}")
            try:
                _, body = http_get(self.port, timeout=5)
                attached = metric_values(body, "netlens_program_attached")
                if attached and all(v == 1 for _, v in attached):
                    self.programs = {}
                    for labels, _ in attached:
                        m = dict(re.findall(r'(\w+)="([^"]*)"', labels))
                        self.programs[m["program"]] = (m["hook"], m["mode"])
                    return
            except (OSError, http.client.HTTPException, BenchError):
                pass  # not listening yet, or listening before its programs are attached
            time.sleep(0.2)
        raise BenchError("netlens did not become ready in 60 s")

    def prog_ids(self):
        linked, loaded = owned_programs(self.pid)
        return linked or loaded

    def scrape(self):
        return http_get(self.port)

    def stop(self):
        rc = self.bench.procs.stop(self.proc)
        self.log.close()
        if rc not in (0, -signal.SIGTERM):
            raise BenchError(f"netlens exited with {rc}: {read_file(self.log_path)[-2000:]}")


class Loader:
    """bench/loader.c: attaches named programs of an object until stopped."""

    def __init__(self, bench, obj, progs):
        self.bench = bench
        self.proc = bench.procs.start(
            [bench.tool("nl-bench-loader"), "--max-seconds", "3600", obj] + list(progs),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.ids = {}
        for line in self.proc.stdout:
            if line.startswith("prog "):
                _, name, pid = line.split()
                self.ids[int(pid)] = name
            elif line.strip() == "ready":
                return
        raise BenchError(f"nl-bench-loader failed: {self.proc.stderr.read()[-2000:]}")

    def prog_ids(self):
        return set(self.ids)

    def stop(self):
        self.proc.stdin.close()
        rc = self.bench.procs.stop(self.proc, sig=signal.SIGTERM)
        if rc != 0:
            raise BenchError(f"nl-bench-loader exited with {rc}")


class Bpftrace:
    def __init__(self, bench):
        self.bench = bench
        self.script = os.path.join(bench.work, "netlens_equivalent.bt")
        with open(self.script, "w") as f:
            f.write(BPFTRACE_SCRIPT)
        self.out_path = os.path.join(bench.work, f"bpftrace-{time.monotonic_ns()}.out")
        self.out = open(self.out_path, "w")
        self.proc = bench.procs.start(["bpftrace", self.script], stdout=self.out,
                                      stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"bpftrace exited: {read_file(self.out_path)[-2000:]}")
            if "Attaching" in read_file(self.out_path) and len(owned_programs(self.pid)[1]) >= 2:
                time.sleep(0.5)  # attaching follows loading
                return
            time.sleep(0.2)
        raise BenchError("bpftrace did not start in 60 s")

    def prog_ids(self):
        return owned_programs(self.pid)[1]

    def stop(self):
        """Stops it (SIGINT: it prints its maps); returns how many pids it counted."""
        self.bench.procs.stop(self.proc, sig=signal.SIGINT, timeout=30)
        self.out.close()
        return len(re.findall(r"^@\w+\[\d+\]:", read_file(self.out_path), re.M))


class Nginx:
    FILES = {"1k": 1024, "100k": 100 * 1024}

    def __init__(self, bench):
        self.bench = bench
        self.dir = os.path.join(bench.work, "nginx")
        www = os.path.join(self.dir, "www")
        os.makedirs(www, exist_ok=True)
        for name, size in self.FILES.items():
            with open(os.path.join(www, f"{name}.bin"), "wb") as f:
                f.write(os.urandom(size))
        self.port = free_port()
        conf = f"""\
worker_processes 2;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    default_type application/octet-stream;
    client_body_temp_path {self.dir}/tmp_body;
    proxy_temp_path {self.dir}/tmp_proxy;
    fastcgi_temp_path {self.dir}/tmp_fastcgi;
    uwsgi_temp_path {self.dir}/tmp_uwsgi;
    scgi_temp_path {self.dir}/tmp_scgi;
    server {{
        listen 127.0.0.1:{self.port};
        root {www};
    }}
}}
"""
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        for path in (bench.work, self.dir, www):  # workers run as nobody
            os.chmod(path, 0o755)
        for name in self.FILES:
            os.chmod(os.path.join(www, f"{name}.bin"), 0o644)
        self.proc = bench.procs.start(
            ["nginx", "-p", self.dir, "-e", os.path.join(self.dir, "error.log"), "-c", self.conf,
             "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"nginx exited: {self.proc.stderr.read().decode()[-2000:]}")
            if len(children(self.proc.pid)) >= 2:
                try:
                    http_get(self.port, "/1k.bin", timeout=5)
                    return
                except (OSError, http.client.HTTPException, BenchError):
                    pass
            time.sleep(0.2)
        raise BenchError("nginx did not start in 20 s")

    def url(self, name):
        return f"http://127.0.0.1:{self.port}/{name}.bin"

    def worker_ticks(self):
        return sum(cpu_ticks(pid) for pid in children(self.proc.pid))

    def stop(self):
        self.bench.procs.stop(self.proc, sig=signal.SIGQUIT, timeout=15)


# ---------------------------------------------------------------- traffic

LATENCY_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def parse_wrk(text):
    def grab(pattern):
        m = re.search(pattern, text, re.M)
        if not m:
            raise BenchError(f"wrk output without /{pattern}/:\n{text}")
        return m
    rps = float(grab(r"^Requests/sec:\s+([\d.]+)").group(1))
    requests = int(grab(r"^\s*(\d+) requests in").group(1))
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)  # with --latency
    errors = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        errors += sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        errors += int(m.group(1))
    return {"rps": rps, "requests": requests,
            "p99_ms": float(p99.group(1)) * LATENCY_UNITS[p99.group(2)] if p99 else None,
            "errors": errors}


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = args.work
        self.procs = Procs()
        self.stats = BpfStats()
        self.mine = set()  # bpf program ids of the processes this harness started
        self.foreign = {}  # name -> times seen, bpf tracing programs of other processes
        self.conditions = []  # host conditions before each measurement
        self.waited_total = 0.0
        self.nginx = None

    def tool(self, name):
        return os.path.join(self.work, name)

    def obj(self, name):
        return os.path.join(self.work, f"{name}.bpf.o")

    # ---- a shared host: other processes' tracing programs share our hooks, their CPU use
    # competes with nginx and wrk. Before each measurement the harness waits (bounded) for a
    # quiet host and records the conditions it measured under.

    def foreign_now(self):
        for proc in self.procs.live:
            self.mine |= owned_programs(proc.pid)[1]
        return sorted(p.get("name", "?") for id_, p in bpf_programs().items()
                      if p.get("type") in TRACING_TYPES and id_ not in self.mine)

    @staticmethod
    def cpu_busy(seconds):
        def snap():
            f = [int(x) for x in read_file("/proc/stat").splitlines()[0].split()[1:9]]
            return sum(f), f[3] + f[4]  # all, idle + iowait
        total0, idle0 = snap()
        time.sleep(seconds)
        total1, idle1 = snap()
        return 100.0 * (1 - (idle1 - idle0) / max(1, total1 - total0))

    def quiet(self, label):
        a = self.args
        t0 = time.monotonic()
        while True:
            foreign = self.foreign_now()
            busy = self.cpu_busy(1.0 if a.wait_quiet > 0 else 0.3)
            quiet = not foreign and busy <= a.quiet_busy
            waited = time.monotonic() - t0
            if (quiet or waited >= a.wait_quiet
                    or self.waited_total + waited >= a.wait_budget):
                break
            time.sleep(2)
        self.waited_total += waited
        for name in foreign:
            self.foreign[name] = self.foreign.get(name, 0) + 1
        self.conditions.append({"label": label, "busy_percent": busy,
                                "foreign_programs": len(foreign), "waited_s": waited,
                                "quiet": quiet})
        if not quiet:
            log(f"{label}: host not quiet (CPU {busy:.0f}% busy, {len(foreign)} foreign "
                "tracing programs); measuring anyway")

    # ---- traffic

    def wrk(self, url, duration, threads, connections, extra=(), latency=False):
        argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s"]
        if latency:
            argv.append("--latency")
        argv += list(extra) + [url]
        return self.procs.start(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def finish(self, p, what):
        out, _ = p.communicate(timeout=self.args.duration + 120)
        if p in self.procs.live:
            self.procs.live.remove(p)
        if p.returncode != 0:
            raise BenchError(f"{what} exited with {p.returncode}:\n{out[-2000:]}")
        return out

    def mixed_traffic(self, duration):
        """Every netlens hook busy: keep-alive HTTP (send/recv), one connection per request
        (state changes), and SYNs to a full accept queue (retransmits)."""
        url = self.nginx.url("1k")
        ps = [(self.wrk(url, duration, 1, 16), "wrk keep-alive"),
              (self.wrk(url, duration, 1, 4, extra=["-H", "Connection: close"]), "wrk close"),
              (self.procs.start([self.tool("nl-bench-traffic"), "synflood", "200", str(duration)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True),
               "synflood")]
        for p, what in ps:
            self.finish(p, what)

    def keepalive_traffic(self, duration):
        p = self.wrk(self.nginx.url("1k"), duration, 2, 32)
        return parse_wrk(self.finish(p, "wrk"))

    # ---- bpf_stats windows

    def measure_programs(self, monitor, traffic, duration):
        """{prog id: (name, type, ns/event, events/s)} for monitor's programs over traffic."""
        ids = monitor.prog_ids()
        if not ids:
            raise BenchError("the monitor holds no bpf program")
        self.mine |= ids
        before = bpf_programs()
        t0 = time.monotonic()
        traffic(duration)
        elapsed = time.monotonic() - t0
        after = bpf_programs()
        out = {}
        for pid_ in ids:
            if pid_ not in before or pid_ not in after:
                raise BenchError(f"bpf program {pid_} vanished")
            runs = after[pid_].get("run_cnt", 0) - before[pid_].get("run_cnt", 0)
            ns = after[pid_].get("run_time_ns", 0) - before[pid_].get("run_time_ns", 0)
            if any(idle.startswith(after[pid_].get("name", "")) for idle in IDLE_PROGRAMS):
                continue  # whatever runs it had came from other processes
            if runs <= 0:
                raise BenchError(f"bpf program {after[pid_].get('name')} never ran "
                                 "(is kernel.bpf_stats_enabled on?)")
            out[pid_] = (after[pid_].get("name"), after[pid_].get("type"), ns / runs,
                         runs / elapsed)
        return out

    # ---------------------------------------------------------- part 0

    def part_per_request(self):
        """What each monitor costs per request, all its programs together: the figure that
        compares a whole tool, whatever its hooks. No scrape during a window (netlens' scrape
        program runs per scrape, not per request: its cost is in part scrape)."""
        a = self.args
        self.stats.set(True)
        monitors = [
            ("netlens_kernel", lambda: Netlens(self)),
            ("netlens_events", lambda: Netlens(self, name="netlens-events", accounting="events")),
            ("bpftrace", lambda: Bpftrace(self)),
            ("empty", lambda: Loader(self, self.obj("empty"), EMPTY_ON_HOOKS)),
        ]
        if a.baseline_netlens:  # the daemon before a change, kernel accounting, side by side
            monitors.insert(1, ("netlens_before", lambda: Netlens(
                self, name="netlens-before", binary=a.baseline_netlens)))
        kinds = {"keepalive": (16, []), "close": (4, ["-H", "Connection: close"])}
        url = self.nginx.url("1k")
        raw = {kind: {label: [] for label, _ in monitors} for kind in kinds}
        for rnd in range(a.repeats):
            for kind, (connections, extra) in kinds.items():
                for label, start in monitors:
                    log(f"per-request round {rnd + 1}/{a.repeats}: {kind} {label}")
                    self.quiet(f"per_request round {rnd + 1} {kind} {label}")
                    mon = start()
                    try:
                        ids = mon.prog_ids()
                        if not ids:
                            raise BenchError(f"{label} holds no bpf program")
                        self.mine |= ids
                        before = bpf_programs()
                        w = parse_wrk(self.finish(self.wrk(url, a.event_duration, 1, connections,
                                                           extra=extra), "wrk"))
                        after = bpf_programs()
                    finally:
                        mon.stop()
                    if w["errors"] or w["requests"] <= 0:
                        raise BenchError(f"wrk: {w['errors']} errors, {w['requests']} requests")
                    ns = sum(after[i].get("run_time_ns", 0) - before[i].get("run_time_ns", 0)
                             for i in ids if i in before and i in after)
                    runs = sum(after[i].get("run_cnt", 0) - before[i].get("run_cnt", 0)
                               for i in ids if i in before and i in after)
                    raw[kind][label].append({"ns_per_request": ns / w["requests"],
                                             "runs_per_request": runs / w["requests"],
                                             "requests": w["requests"], "round": rnd + 1})
        kinds_out = {}
        for kind, by_label in raw.items():
            out = {}
            for label, rs in by_label.items():
                out[label] = {"ns_per_request": summary([r["ns_per_request"] for r in rs]),
                              "runs_per_request": summary([r["runs_per_request"] for r in rs])}
                if label != "bpftrace":
                    out[label]["ratio_to_bpftrace"] = ratio_summary(
                        [r["ns_per_request"] for r in rs],
                        [r["ns_per_request"] for r in by_label["bpftrace"]])
            kinds_out[kind] = out
        return {"wrk": f"wrk -t1 -c16 (keepalive) / -c4 -H 'Connection: close' (close) "
                       f"-d{a.event_duration}s, 1 KiB file",
                "rounds": a.repeats,
                "order": "per round: keepalive then close, each: " +
                         " ".join(label for label, _ in monitors),
                "kinds": kinds_out, "runs": raw}

    # ---------------------------------------------------------- part 1

    def part_per_event(self):
        a = self.args
        self.stats.set(True)
        # The per-event programs: only --accounting events has them.
        monitors = [
            ("netlens", lambda: Netlens(self, accounting="events")),
            ("empty_tp_btf", lambda: Loader(self, self.obj("empty"), EMPTY_ON_HOOKS)),
            ("empty_tracepoint", lambda: Loader(self, self.obj("empty"), [
                "empty_send_tp", "empty_recv_tp"])),
            ("bpftrace", lambda: Bpftrace(self)),
        ]
        if a.baseline_netlens:
            monitors.insert(1, ("netlens_before", lambda: Netlens(
                self, name="netlens-before", binary=a.baseline_netlens, accounting="events")))
        raw = {}  # (monitor, hook, mode) -> {"program", "ns": [], "eps": []}
        netlens_programs = {}
        for rnd in range(a.repeats):
            for label, start in monitors:
                log(f"per-event round {rnd + 1}/{a.repeats}: {label}")
                self.quiet(f"per_event round {rnd + 1} {label}")
                mon = start()
                try:
                    if label.startswith("netlens"):
                        netlens_programs = mon.programs
                    res = self.measure_programs(mon, self.mixed_traffic, a.event_duration)
                finally:
                    mon.stop()
                for name, ptype, ns, eps in res.values():
                    if label.startswith("netlens"):
                        full = next((p for p in netlens_programs if p.startswith(name)), name)
                        hook, mode = (netlens_programs[full] if full in netlens_programs else
                                      (hook_of(name), None))
                        name = full
                        mode = mode or PROG_TYPE_MODE.get(ptype, ptype)
                    else:
                        hook, mode = hook_of(name), PROG_TYPE_MODE.get(ptype, ptype)
                    entry = raw.setdefault((label, hook, mode), {"program": name, "ns": [],
                                                                 "eps": []})
                    entry["ns"].append(ns)
                    entry["eps"].append(eps)
        self.stats.set(False)

        def find(label, hook, mode):
            return raw.get((label, hook, mode))

        hooks = []
        for (label, hook, mode), e in sorted(raw.items(), key=lambda kv: kv[0][1]):
            if label != "netlens":
                continue
            empty = find("empty_tp_btf", hook, mode) or find("empty_tracepoint", hook, mode)
            if not empty:
                raise BenchError(f"no empty baseline for {hook} ({mode})")
            row = {
                "hook": hook,
                "mode": mode,
                "netlens_program": e["program"],
                "netlens_ns": summary(e["ns"]),
                "events_per_s": summary(e["eps"]),
                "empty_program": empty["program"],
                "empty_ns": summary(empty["ns"]),
                "ratio_to_empty": ratio_summary(e["ns"], empty["ns"]),
            }
            row["pass"] = row["ratio_to_empty"]["mean"] <= 1.5
            bt = find("bpftrace", hook, "tracepoint")
            bt_empty = find("empty_tracepoint", hook, "tracepoint")
            if bt and bt_empty:
                row["bpftrace_ns"] = summary(bt["ns"])
                row["empty_tracepoint_ns"] = summary(bt_empty["ns"])
                row["bpftrace_ratio_to_empty"] = ratio_summary(bt["ns"], bt_empty["ns"])
            before = find("netlens_before", hook, mode)
            if before:
                row["before_ns"] = summary(before["ns"])
                row["before_ratio_to_empty"] = ratio_summary(before["ns"], empty["ns"])
            hooks.append(row)
        if len(hooks) < 4:
            raise BenchError(f"expected 4 netlens programs, measured {len(hooks)}")
        return {
            "traffic": "wrk -t1 -c16 keep-alive + wrk -t1 -c4 'Connection: close' on a 1 KiB "
                       "file of nginx, plus 200 connects/s to a full accept queue (SYN "
                       "retransmits); all on 127.0.0.1",
            "window_s": a.event_duration,
            "rounds": a.repeats,
            "hooks": hooks,
        }

    # ---------------------------------------------------------- profile

    def part_profile(self):
        a = self.args
        self.stats.set(True)
        wanted = a.profile_programs.split(",") if a.profile_programs else []
        programs = [p_ for p_ in PROFILE if not wanted or p_[0] in wanted
                    or p_[0].endswith("_empty")]
        objects = [("", self.obj("profile"))]
        if a.profile_alt:
            objects.append(("alt_", a.profile_alt))  # the same programs, other ebpf/ sources
        ns = {(o, name): [] for o, _ in objects for name, _, _ in programs}
        eps = {(o, name): [] for o, _ in objects for name, _, _ in programs}
        for rnd in range(a.repeats):
            for name, _, _ in programs:
                for o, obj in objects:
                    log(f"profile round {rnd + 1}/{a.repeats}: {o}{name}")
                    self.quiet(f"profile round {rnd + 1} {o}{name}")
                    mon = Loader(self, obj, PROFILE_HELPERS + [name])
                    try:
                        res = self.measure_programs(mon, self.mixed_traffic, a.event_duration)
                    finally:
                        mon.stop()
                    for prog_name, _, prog_ns, prog_eps in res.values():
                        if prog_name == name:
                            ns[(o, name)].append(prog_ns)
                            eps[(o, name)].append(prog_eps)
        self.stats.set(False)
        rows = []
        for name, hook, what in programs:
            row = {"program": name, "hook": HOOKS[hook], "what": what}
            for o, _ in objects:
                values, empty = ns[(o, name)], ns[(o, f"{hook[0]}_empty")]
                row.update({
                    f"{o}ns": summary(values),
                    f"{o}median_ns": statistics.median(values),
                    f"{o}events_per_s": summary(eps[(o, name)]),
                    f"{o}ratio_to_empty": ratio_summary(values, empty),
                    f"{o}over_empty_ns": statistics.fmean(values) - statistics.fmean(empty),
                })
            rows.append(row)
        out = {"traffic": "as per_event", "mode": "tp_btf", "window_s": a.event_duration,
               "rounds": a.repeats, "helpers": PROFILE_HELPERS, "programs": rows}
        if a.profile_alt:
            out["alt_object"] = a.profile_alt
        return out

    # ---------------------------------------------------------- syscall_tp

    def part_syscall_tp(self):
        """While any syscall tracepoint has a program, every system call of every task takes
        the kernel's syscall-trace path. getppid() loops (the cheapest call) with no program
        (off) and with an empty one on syscalls:sys_exit_accept4 (on), interleaved."""
        a = self.args
        calls, batches = (20000, 5) if a.smoke else (200000, 21)
        pairs = a.repeats * 5
        ns = {"off": [], "on": []}
        clean_pairs = 0  # pairs during which no other process had an accept-hook program
        for rnd in range(pairs):
            clean = True
            for config in ("off", "on"):
                log(f"syscall_tp pair {rnd + 1}/{pairs}: {config}")
                self.quiet(f"syscall_tp pair {rnd + 1} {config}")
                clean &= not any("accept" in n for n in self.foreign_now())
                mon = (Loader(self, self.obj("empty"), ["empty_accept4_tp"])
                       if config == "on" else None)
                try:
                    out = subprocess.run([self.tool("nl-bench-syscalls"), str(calls),
                                          str(batches)], capture_output=True, text=True,
                                         timeout=600, check=True).stdout
                finally:
                    if mon:
                        mon.stop()
                ns[config].append(float(re.search(r"ns_per_call=([\d.]+)", out).group(1)))
            clean_pairs += clean
        diffs = [on - off for on, off in zip(ns["on"], ns["off"])]
        return {"call": "syscall(SYS_getppid)", "calls_per_batch": calls,
                "batches": batches, "pairs": pairs, "pairs_without_foreign_accept_programs":
                clean_pairs,
                "per_call": "median over the batches of one run",
                "off_ns": summary(ns["off"]), "on_ns": summary(ns["on"]),
                "on_minus_off_ns": summary(diffs),
                "median_on_minus_off_ns": statistics.median(diffs)}

    # ---------------------------------------------------------- part 4

    def part_variants(self):
        a = self.args
        self.stats.set(True)
        ns = {name: [] for name, _ in VARIANTS}
        for rnd in range(a.repeats):
            for name, _ in VARIANTS:
                log(f"variants round {rnd + 1}/{a.repeats}: {name}")
                self.quiet(f"variants round {rnd + 1} {name}")
                mon = Loader(self, self.obj("variants"), [name])
                try:
                    res = self.measure_programs(mon, self.keepalive_traffic, a.variant_duration)
                finally:
                    mon.stop()
                ns[name].append(next(iter(res.values()))[2])
        self.stats.set(False)
        empty = ns["v_empty"]
        rows = []
        for name, what in VARIANTS:
            rows.append({
                "program": name,
                "what": what,
                "ns": summary(ns[name]),
                "ratio_to_empty": ratio_summary(ns[name], empty),
                "over_empty_ns": statistics.fmean(ns[name]) - statistics.fmean(empty),
            })
        return {"hook": "sock:sock_send_length (tp_btf)",
                "traffic": "wrk -t2 -c32 keep-alive on a 1 KiB file of nginx",
                "window_s": a.variant_duration, "rounds": a.repeats, "variants": rows}

    # ---------------------------------------------------------- part 2

    def part_end_to_end(self):
        a = self.args
        self.stats.set(False)
        for name in Nginx.FILES:  # warm-up: page cache, nginx's open file state
            self.finish(self.wrk(self.nginx.url(name), 2, 2, 32), "wrk warm-up")
        # D: the --baseline-netlens daemon, in the same rounds as B (a change measured side by side).
        # E: empty programs on netlens' hooks: what any program there costs, the floor under B.
        configs = "ABCDE" if a.baseline_netlens else "ABCE"
        runs = {f: {c: [] for c in configs} for f in Nginx.FILES}
        sanity = {"netlens_nginx_bytes_counted": [], "bpftrace_pids_counted": []}
        for rnd in range(a.repeats):
            for config in configs:
                log(f"end-to-end round {rnd + 1}/{a.repeats}: {config}")
                self.quiet(f"end_to_end round {rnd + 1} {config}")
                mon = (Netlens(self) if config == "B" else Bpftrace(self) if config == "C" else
                       Netlens(self, name="netlens-before", binary=a.baseline_netlens)
                       if config == "D" else Loader(self, self.obj("empty"), EMPTY_ON_HOOKS)
                       if config == "E" else None)
                try:
                    for name in Nginx.FILES:
                        stats_on = self.stats.get()
                        if stats_on:
                            log("bpf_stats are on (another process asked for them): this "
                                "run pays for them")
                        ticks = self.nginx.worker_ticks()
                        w = parse_wrk(self.finish(self.wrk(
                            self.nginx.url(name), a.duration, a.wrk_threads, a.wrk_connections,
                            latency=True), "wrk"))
                        ticks = self.nginx.worker_ticks() - ticks
                        if w["p99_ms"] is None:
                            raise BenchError("wrk --latency printed no 99% latency")
                        if w["errors"]:
                            raise BenchError(f"wrk reported {w['errors']} errors")
                        w["cpu_us_per_request"] = ticks / HZ * 1e6 / w["requests"]
                        w["round"] = rnd + 1
                        w["bpf_stats_on"] = stats_on
                        w["loadavg_1m"] = float(read_file("/proc/loadavg").split()[0])
                        runs[name][config].append(w)
                    if config == "B":
                        _, body = mon.scrape()
                        sent = sum(v for labels, v in metric_values(
                            body, "netlens_tcp_sent_bytes_total") if 'comm="nginx"' in labels)
                        sanity["netlens_nginx_bytes_counted"].append(sent)
                finally:
                    if config in "BDE":
                        mon.stop()
                    elif config == "C":
                        sanity["bpftrace_pids_counted"].append(mon.stop())
        files = {}
        for name, by_config in runs.items():
            out = {}
            for config, ws in by_config.items():
                out[config] = {
                    "rps": summary([w["rps"] for w in ws]),
                    "p99_ms": summary([w["p99_ms"] for w in ws]),
                    "cpu_us_per_request": summary([w["cpu_us_per_request"] for w in ws]),
                }
            for config in configs[1:]:
                for key in ("rps", "p99_ms", "cpu_us_per_request"):
                    out[config][f"{key}_ratio_to_A"] = ratio_summary(
                        [w[key] for w in by_config[config]], [w[key] for w in by_config["A"]])
            files[name] = out
        for key, values in sanity.items():
            if not values or min(values) <= 0:
                raise BenchError(f"sanity check failed: {key} = {values}")
        return {
            "wrk": f"wrk -t{a.wrk_threads} -c{a.wrk_connections} -d{a.duration}s --latency",
            "nginx": "nginx 2 workers, access_log off, sendfile on, 127.0.0.1",
            "rounds": a.repeats,
            "order": " ".join(configs) + " per round, both files under each",
            "files": files,
            "runs": runs,
            "runs_with_bpf_stats_on": sum(1 for by_config in runs.values()
                                          for ws in by_config.values()
                                          for w in ws if w["bpf_stats_on"]),
            "sanity": {k: summary(v) for k, v in sanity.items()},
        }

    def bpf_ns(self, monitor):
        """Run time (ns) of the monitor's programs so far; bpf_stats must be on to grow."""
        ids = monitor.prog_ids()
        self.mine |= ids
        now = bpf_programs()
        return sum(now[i].get("run_time_ns", 0) for i in ids if i in now)

    def part_http(self):
        """HTTP request metrics: nginx CPU per request (bpf_stats off) and BPF ns per request
        (bpf_stats on, a run of its own): no monitoring (A), netlens default (B), netlens
        with http_requests parsing nginx (H); wrk keep-alive, interleaved rounds."""
        a = self.args
        http_config = "http_requests:\n  processes:\n    include:\n      - comm: nginx"
        for name in Nginx.FILES:
            self.finish(self.wrk(self.nginx.url(name), 2, 2, 32), "wrk warm-up")
        runs = {f: {c: [] for c in "ABH"} for f in Nginx.FILES}
        parsed = []
        for rnd in range(a.repeats):
            for config in "ABH":
                log(f"http round {rnd + 1}/{a.repeats}: {config}")
                self.quiet(f"http round {rnd + 1} {config}")
                mon = (Netlens(self) if config == "B" else
                       Netlens(self, name="netlens-http", extra_config=http_config)
                       if config == "H" else None)
                try:
                    for name in Nginx.FILES:
                        self.stats.set(False)
                        ticks = self.nginx.worker_ticks()
                        w = parse_wrk(self.finish(self.wrk(
                            self.nginx.url(name), a.duration, a.wrk_threads, a.wrk_connections),
                            "wrk"))
                        ticks = self.nginx.worker_ticks() - ticks
                        run = {"rps": w["rps"], "round": rnd + 1,
                               "cpu_us_per_request": ticks / HZ * 1e6 / w["requests"]}
                        if mon:
                            self.stats.set(True)
                            ns = self.bpf_ns(mon)
                            w2 = parse_wrk(self.finish(self.wrk(
                                self.nginx.url(name), max(2, a.duration // 2), a.wrk_threads,
                                a.wrk_connections), "wrk"))
                            run["bpf_ns_per_request"] = (self.bpf_ns(mon) - ns) / w2["requests"]
                            self.stats.set(False)
                        runs[name][config].append(run)
                    if config == "H":
                        _, body = mon.scrape()
                        parsed.append(sum(v for labels, v in metric_values(
                            body, "http_server_request_duration_seconds_count")
                            if 'comm="nginx"' in labels))
                finally:
                    if mon:
                        mon.stop()
        if not parsed or min(parsed) <= 0:
            raise BenchError(f"sanity check failed: nginx requests parsed = {parsed}")
        files = {}
        for name, by_config in runs.items():
            out = {}
            for config, ws in by_config.items():
                out[config] = {k: summary([w[k] for w in ws]) for k in ws[0] if k != "round"}
            for config in "BH":
                for key in ("rps", "cpu_us_per_request"):
                    out[config][f"{key}_ratio_to_A"] = ratio_summary(
                        [w[key] for w in by_config[config]], [w[key] for w in by_config["A"]])
            files[name] = out
        return {"wrk": f"wrk -t{a.wrk_threads} -c{a.wrk_connections} -d{a.duration}s",
                "rounds": a.repeats, "order": "A B H per round", "files": files, "runs": runs,
                "sanity": {"nginx_requests_parsed": summary(parsed)}}

    # ---------------------------------------------------------- part 3

    def remotes(self, count, first):
        p = self.procs.start([self.tool("nl-bench-traffic"), "--max-hold", "1800", "remotes",
                              str(count), str(first)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for line in p.stdout:
            if line.strip() == "ready":
                return p
        raise BenchError("nl-bench-traffic remotes failed")

    def release(self, p):
        p.stdin.close()
        if self.procs.stop(p, sig=signal.SIGTERM, timeout=60) not in (0, -signal.SIGTERM):
            raise BenchError("nl-bench-traffic failed")

    def part_scrape(self):
        a = self.args
        limits = {"aggregates": 262144, "series_per_family": 1000000}
        self.quiet("scrape")
        nl = Netlens(self, limits=limits, name="scrape")
        helpers = []
        levels = []
        try:
            # Calibration: series per remote address, counted on the helper server's own
            # series (comm nl-bench-server), so that other traffic on the host does not count.
            helpers.append(self.remotes(50, 0))
            used = 50
            nl.scrape()
            _, body = nl.scrape()
            mine = sum(1 for line in body.splitlines()
                       if not line.startswith(b"#") and b'comm="nl-bench-server"' in line)
            per_remote = max(1.0, mine / 50)
            for target in a.series_levels:
                _, body = nl.scrape()
                have = sample_count(body)
                need = max(0, math.ceil((target - have) / per_remote))
                if need:
                    helpers.append(self.remotes(need, used))
                    used += need
                nl.scrape()  # first scrape after growth: the ledger takes the new sources
                times, server, size, samples = [], [], 0, 0
                for _ in range(a.scrapes):
                    elapsed, body = nl.scrape()
                    times.append(elapsed * 1e3)
                    server.append(metric_values(body, "netlens_scrape_duration_seconds")[0][1]
                                  * 1e3)
                    size, samples = len(body), sample_count(body)
                levels.append({
                    "target_series": target,
                    "series": samples,
                    "remote_addresses": used,
                    "bytes": size,
                    "time_ms": summary(times),
                    "server_ms": summary(server),
                    "rss_kib": status_kib(nl.pid, "VmRSS"),
                })
                log(f"scrape at {samples} series: {statistics.median(times):.1f} ms, "
                    f"{size} bytes")
        finally:
            for h in helpers:
                self.release(h)
            nl.stop()
        return {
            "how": "remote level; one helper connection per source address 127.0.X.Y to a "
                   "server on 127.0.0.1 (one exchange, closed): each address is a series key "
                   "of the server process in every traffic and connection family",
            "limits": limits,
            "scrapes_per_level": a.scrapes,
            "levels": levels,
            "series_per_remote_address": per_remote,
        }

    def part_daemon_load(self):
        a = self.args
        nl = Netlens(self, name="load")
        results = []
        try:
            nl.scrape()  # the first scrape registers every family; not part of any window
            for label, eps in (("idle", 0), ("10k", 10000), ("100k", 100000)):
                log(f"daemon load: {label}")
                self.quiet(f"daemon_load {label}")
                stop = threading.Event()
                scrapes = []

                def scraper():
                    while not stop.wait(1.0):
                        scrapes.append(nl.scrape()[0])

                t = threading.Thread(target=scraper, daemon=True)
                ticks, ns = cpu_ticks(nl.pid), cpu_ns(nl.pid)
                t0 = time.monotonic()
                t.start()
                events = 0
                if eps:
                    out = self.finish(self.procs.start(
                        [self.tool("nl-bench-traffic"), "rate", str(eps), str(a.duration)],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True), "rate")
                    events = int(re.search(r"events=(\d+)", out).group(1))
                else:
                    time.sleep(a.duration)
                elapsed = time.monotonic() - t0
                stop.set()
                t.join()
                ticks, ns = cpu_ticks(nl.pid) - ticks, cpu_ns(nl.pid) - ns
                results.append({
                    "load": label,
                    "target_events_per_s": eps,
                    "events_per_s": events / elapsed,
                    "cpu_percent": ticks / HZ / elapsed * 100,
                    "cpu_percent_schedstat": ns / 1e9 / elapsed * 100,
                    "rss_kib": status_kib(nl.pid, "VmRSS"),
                    "scrapes": len(scrapes),
                })
        finally:
            nl.stop()
        return {"how": f"default config (remote level); {a.duration} s per load, a scrape "
                       "every second; events = send + receive calls of the helper's paced "
                       "ping-pong on 8 connections",
                "loads": results}

    def part_open_conns(self):
        a = self.args
        results = []
        for aggregation in ("remote", "connection"):
            log(f"open connections: {a.open_connections} at {aggregation} level")
            self.quiet(f"open_conns {aggregation}")
            nl = Netlens(self, aggregation=aggregation, name=f"conns-{aggregation}")
            holder = None
            try:
                rss_before = status_kib(nl.pid, "VmRSS")
                holder = self.procs.start(
                    [self.tool("nl-bench-traffic"), "--max-hold", "1800", "hold",
                     str(a.open_connections)],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                for line in holder.stdout:
                    if line.strip() == "ready":
                        break
                else:
                    raise BenchError("nl-bench-traffic hold failed")
                times = []
                for _ in range(3):
                    elapsed, body = nl.scrape()
                    times.append(elapsed * 1e3)
                entries = [v for labels, v in metric_values(body, "netlens_map_entries")
                           if 'map="tcp_conns"' in labels]
                results.append({
                    "aggregation": aggregation,
                    "connections": a.open_connections,
                    "conns_map_entries": entries[0] if entries else -1,
                    "series": sample_count(body),
                    "scrape_ms": summary(times),
                    "rss_idle_kib": rss_before,
                    "rss_kib": status_kib(nl.pid, "VmRSS"),
                    "hwm_kib": status_kib(nl.pid, "VmHWM"),
                })
            finally:
                if holder:
                    self.release(holder)
                nl.stop()
        return {"how": "N connections from 127.0.0.1 to a helper server, one exchange each, "
                       "held open (both ends are tracked: 2N sockets); 3 scrapes, then VmRSS",
                "runs": results}

    # ---------------------------------------------------------- all

    def run(self):
        a = self.args
        result = {
            "schema": 1,
            "mode": "smoke" if a.smoke else "full",
            "started": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "host": host_info(a),
            "params": {k: getattr(a, k) for k in (
                "duration", "event_duration", "variant_duration", "repeats", "wrk_threads",
                "wrk_connections", "series_levels", "scrapes", "open_connections", "parts",
                "wait_quiet", "wait_budget", "quiet_busy")},
        }
        self.nginx = Nginx(self)
        parts = {
            "per_request": self.part_per_request,
            "per_event": self.part_per_event,
            "variants": self.part_variants,
            "profile": self.part_profile,
            "syscall_tp": self.part_syscall_tp,
            "end_to_end": self.part_end_to_end,
            "http": self.part_http,
            "scrape": self.part_scrape,
            "daemon_load": self.part_daemon_load,
            "open_conns": self.part_open_conns,
        }
        for name in a.parts:
            t0 = time.monotonic()
            result[name] = parts[name]()
            result[name]["elapsed_s"] = time.monotonic() - t0
        result["foreign_bpf_programs"] = self.foreign
        result["conditions"] = {
            "windows": len(self.conditions),
            "quiet_windows": sum(1 for c in self.conditions if c["quiet"]),
            "max_busy_percent": max((c["busy_percent"] for c in self.conditions), default=0.0),
            "waited_s": self.waited_total,
            "quiet_rule": f"no tracing programs of other processes and CPU <= "
                          f"{self.args.quiet_busy}% busy, waiting up to {self.args.wait_quiet} s",
            "each": self.conditions,
        }
        result["finished"] = datetime.datetime.now(datetime.timezone.utc).isoformat()
        result["targets"] = targets(result)
        return result

    def close(self):
        self.procs.stop_all()
        try:
            self.stats.restore()
        except OSError:
            pass


def host_info(a):
    def run(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip()
        except OSError:
            return ""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return {
        "kernel": os.uname().release,
        "cpus": os.cpu_count(),
        "mem_kib": int(re.search(r"MemTotal:\s+(\d+)", read_file("/proc/meminfo")).group(1)),
        "netlens": a.netlens,
        "netlens_version": run([a.netlens, "--version"]),
        "git_head": run(["git", "-C", repo, "rev-parse", "HEAD"]),
        "git_dirty": bool(run(["git", "-C", repo, "status", "--porcelain", "--", "ebpf",
                               "daemon"])),
        "nginx": run(["dpkg-query", "-W", "-f", "${Version}", "nginx"]),
        "wrk": run(["dpkg-query", "-W", "-f", "${Version}", "wrk"]),
        "bpftrace": run(["bpftrace", "--version"]),
        "note": a.note,
    }


def targets(r):
    out = []
    for kind, limit in (("keepalive", 50.0), ("close", 1500.0)):
        row = r.get("per_request", {}).get("kinds", {}).get(kind, {}).get("netlens_kernel")
        if row:
            value = row["ns_per_request"]["median"]
            out.append({"target": f"{kind}: netlens (kernel accounting) BPF ns per request <= "
                                  f"{limit:.0f}", "value": value, "limit": limit,
                        "pass": value <= limit})
    for row in r.get("per_event", {}).get("hooks", []):
        out.append({"target": f"{row['netlens_program']} ns/event <= 1.5x empty on "
                              f"{row['hook']}",
                    "value": row["ratio_to_empty"]["mean"], "limit": 1.5,
                    "pass": row["ratio_to_empty"]["mean"] <= 1.5})
    for name, f in r.get("end_to_end", {}).get("files", {}).items():
        b = f["B"]["rps_ratio_to_A"]["median"]
        c = f["C"]["rps_ratio_to_A"]["median"]
        cpu = f["B"]["cpu_us_per_request_ratio_to_A"]["median"]
        out.append({"target": f"{name}: nginx req/s with netlens >= 99% of unmonitored (median)",
                    "value": b, "limit": 0.99, "pass": b >= 0.99})
        out.append({"target": f"{name}: nginx CPU per request with netlens <= 101% of "
                              "unmonitored (median)", "value": cpu, "limit": 1.01,
                    "pass": cpu <= 1.01})
        out.append({"target": f"{name}: nginx req/s with netlens ahead of bpftrace",
                    "value": b - c, "limit": 0.0, "pass": b > c})
    levels = r.get("scrape", {}).get("levels", [])
    if len(levels) >= 2:
        lvl = levels[1]  # the ~10k level (the second of series_levels)
        value = statistics.median(lvl["time_ms"]["runs"])
        out.append({"target": f"scrape at {lvl['series']} series < 50 ms (median)",
                    "value": value, "limit": 50.0, "pass": value < 50})
    for run in r.get("open_conns", {}).get("runs", []):
        mib = run["rss_kib"] / 1024
        out.append({"target": f"RSS < 64 MiB at {run['connections']} open connections "
                              f"({run['aggregation']} level)",
                    "value": mib, "limit": 64.0, "pass": mib < 64})
    return out


# ---------------------------------------------------------------- validation and report


def check_numbers(node, path, problems):
    if isinstance(node, dict):
        for k, v in node.items():
            check_numbers(v, f"{path}.{k}", problems)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            check_numbers(v, f"{path}[{i}]", problems)
    elif isinstance(node, bool) or isinstance(node, str):
        pass
    elif isinstance(node, (int, float)):
        if not math.isfinite(node):
            problems.append(f"{path} is {node}")
    else:
        problems.append(f"{path} is {node!r}")


REQUIRED = {
    "per_request": ["kinds"],
    "per_event": ["hooks"],
    "variants": ["variants"],
    "profile": ["programs"],
    "syscall_tp": ["on_ns"],
    "end_to_end": ["files"],
    "http": ["files"],
    "scrape": ["levels"],
    "daemon_load": ["loads"],
    "open_conns": ["runs"],
}


def validate(r, parts):
    problems = []
    for part in parts:
        if part not in r:
            problems.append(f"missing part {part}")
            continue
        for key in REQUIRED[part]:
            if not r[part].get(key):
                problems.append(f"{part}.{key} missing or empty")
    for row in r.get("per_event", {}).get("hooks", []):
        for key in ("netlens_ns", "empty_ns", "ratio_to_empty", "events_per_s"):
            if key not in row:
                problems.append(f"per_event {row.get('hook')}: no {key}")
    for name, f in r.get("end_to_end", {}).get("files", {}).items():
        for config in "ABC":
            for key in ("rps", "p99_ms", "cpu_us_per_request"):
                if key not in f.get(config, {}):
                    problems.append(f"end_to_end {name} {config}: no {key}")
    if "end_to_end" in parts:
        if set(r["end_to_end"].get("files", {})) != set(Nginx.FILES):
            problems.append("end_to_end: not every file measured")
    if "scrape" in parts and len(r["scrape"].get("levels", [])) != len(r["params"]["series_levels"]):
        problems.append("scrape: not every level measured")
    check_numbers(r, "$", problems)
    if not r.get("targets"):
        problems.append("no targets evaluated")
    return problems


def fmt(s, digits=0, key="mean"):
    return f"{s[key]:.{digits}f}"


def spread(s, digits=0):
    return f"{s['mean']:.{digits}f} ({s['min']:.{digits}f}-{s['max']:.{digits}f})"


def report(r):
    lines = []
    add = lines.append
    h = r["host"]
    add(f"netlens bench, {r['mode']} run, {r['started']}: kernel {h['kernel']}, {h['cpus']} CPUs, "
        f"netlens {h['netlens_version']} (git {h['git_head'][:12]}"
        f"{', dirty tree' if h['git_dirty'] else ''})")
    add("")
    if "per_request" in r:
        pq = r["per_request"]
        add(f"### BPF time per nginx request (bpf_stats: all of a monitor's programs / requests; "
            f"median (min-max) over {pq['rounds']} interleaved rounds; {pq['wrk']})")
        add("")
        add("| traffic | monitor | ns/request | runs/request | ratio to bpftrace (median) |")
        add("| --- | --- | ---: | ---: | ---: |")
        for kind, by_label in pq["kinds"].items():
            for label, row in by_label.items():
                s = row["ns_per_request"]
                ratio = (f"{row['ratio_to_bpftrace']['median']:.3f}"
                         if "ratio_to_bpftrace" in row else "-")
                add(f"| {kind} | {label} | {s['median']:.0f} ({s['min']:.0f}-{s['max']:.0f}) | "
                    f"{row['runs_per_request']['median']:.2f} | {ratio} |")
        add("")
    if "per_event" in r:
        pe = r["per_event"]
        add(f"### Per-event cost (bpf_stats, ns/event: mean (min-max) over {pe['rounds']} "
            f"rounds of {pe['window_s']} s, each program set attached alone)")
        add("")
        add("| hook | netlens program | netlens ns | empty ns (same hook, mode) | ratio | "
            "target <= 1.5x | bpftrace ns | empty tracepoint ns | events/s |")
        add("| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |")
        for row in pe["hooks"]:
            bt = spread(row["bpftrace_ns"]) if "bpftrace_ns" in row else "-"
            bte = spread(row["empty_tracepoint_ns"]) if "empty_tracepoint_ns" in row else "-"
            if "before_ns" in row:
                add(f"| {row['hook']} | {row['netlens_program']} ({row['mode']}), before "
                    f"(--baseline-netlens) | {spread(row['before_ns'])} | "
                    f"{spread(row['empty_ns'])} | {spread(row['before_ratio_to_empty'], 2)} | "
                    f"- | - | - | - |")
            add(f"| {row['hook']} | {row['netlens_program']} ({row['mode']}) | "
                f"{spread(row['netlens_ns'])} | {spread(row['empty_ns'])} | "
                f"{spread(row['ratio_to_empty'], 2)} | {'pass' if row['pass'] else 'FAIL'} | "
                f"{bt} | {bte} | {fmt(row['events_per_s'])} |")
        add("")
    if "profile" in r:
        pr = r["profile"]
        add(f"### Steps of the send and receive programs (tp_btf, ns/event: mean (min-max) and "
            f"median over {pr['rounds']} rounds of {pr['window_s']} s, per_event traffic)")
        add("")
        alt = bool(pr.get("alt_object"))
        add("| program | what it runs | ns/event | median | over empty | events/s |"
            + (" alt ns/event | alt median | alt over empty |" if alt else ""))
        add("| --- | --- | ---: | ---: | ---: | ---: |" + (" ---: | ---: | ---: |" if alt else ""))
        for row in pr["programs"]:
            add(f"| {row['program']} | {row['what']} | {spread(row['ns'])} | "
                f"{row['median_ns']:.0f} | {row['over_empty_ns']:+.0f} | "
                f"{fmt(row['events_per_s'])} |"
                + (f" {spread(row['alt_ns'])} | {row['alt_median_ns']:.0f} | "
                   f"{row['alt_over_empty_ns']:+.0f} |" if alt else ""))
        if alt:
            add("")
            add(f"alt: the same programs built from other eBPF sources ({pr['alt_object']}).")
        add("")
    if "syscall_tp" in r:
        st = r["syscall_tp"]
        add(f"### System calls with the accept hook's tracepoint ({st['call']}, ns per call: "
            f"mean (min-max) over {st['pairs']} interleaved pairs of runs, "
            f"{st['pairs_without_foreign_accept_programs']} of them with no other process's "
            "accept-hook program loaded)")
        add("")
        add("| no program | empty program on syscalls:sys_exit_accept4 | difference per pair "
            "| median difference |")
        add("| ---: | ---: | ---: | ---: |")
        add(f"| {spread(st['off_ns'], 1)} | {spread(st['on_ns'], 1)} | "
            f"{spread(st['on_minus_off_ns'], 1)} | {st['median_on_minus_off_ns']:.1f} |")
        add("")
    if "variants" in r:
        v = r["variants"]
        add(f"### Send-path variants on {v['hook']} (ns/event, mean (min-max) over "
            f"{v['rounds']} rounds of {v['window_s']} s)")
        add("")
        add("| program | what it does | ns/event | over empty | ratio to empty |")
        add("| --- | --- | ---: | ---: | ---: |")
        for row in v["variants"]:
            add(f"| {row['program']} | {row['what']} | {spread(row['ns'])} | "
                f"{row['over_empty_ns']:+.0f} | {spread(row['ratio_to_empty'], 2)} |")
        add("")
    if "end_to_end" in r:
        e = r["end_to_end"]
        add(f"### End to end: nginx + {e['wrk']}, {e['rounds']} interleaved rounds "
            "(ratio to A: mean of B or C over mean of A, (min-max) of the per-round ratios)")
        add("")
        if e["runs_with_bpf_stats_on"]:
            add(f"WARNING: {e['runs_with_bpf_stats_on']} wrk runs had bpf_stats on (another "
                "process asked for them).")
            add("")
        add("| file | config | req/s | ratio | p99 ms | ratio | nginx CPU us/req | ratio |")
        add("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        names = {"A": "A: no monitoring", "B": "B: netlens", "C": "C: bpftrace",
                 "D": "D: netlens before (--baseline-netlens)",
                 "E": "E: empty programs on netlens' hooks"}
        for fname, f in e["files"].items():
            for c in f:
                x = f[c]
                ratios = ["-", "-", "-"] if c == "A" else [
                    spread(x[f"{k}_ratio_to_A"], 3) for k in
                    ("rps", "p99_ms", "cpu_us_per_request")]
                add(f"| {fname} | {names[c]} | {spread(x['rps'])} | {ratios[0]} | "
                    f"{spread(x['p99_ms'], 2)} | {ratios[1]} | "
                    f"{spread(x['cpu_us_per_request'], 1)} | {ratios[2]} |")
        add("")
    if "scrape" in r:
        s = r["scrape"]
        add(f"### Scrape (GET /metrics, {s['scrapes_per_level']} scrapes per level; "
            f"{s['series_per_remote_address']:.1f} series per remote address)")
        add("")
        add("| target | series | remote addresses | bytes | client ms | netlens ms "
            "(self-reported) | RSS MiB |")
        add("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for lvl in s["levels"]:
            add(f"| {lvl['target_series']} | {lvl['series']} | {lvl['remote_addresses']} | "
                f"{lvl['bytes']} | {spread(lvl['time_ms'], 1)} | {spread(lvl['server_ms'], 1)} | "
                f"{lvl['rss_kib'] / 1024:.1f} |")
        add("")
    if "daemon_load" in r:
        add("### Daemon CPU and RSS under load (a scrape every second)")
        add("")
        add("| load | events/s achieved | netlens CPU % (utime+stime) | CPU % (schedstat) | "
            "RSS MiB |")
        add("| --- | ---: | ---: | ---: | ---: |")
        for x in r["daemon_load"]["loads"]:
            add(f"| {x['load']} | {x['events_per_s']:.0f} | {x['cpu_percent']:.2f} | "
                f"{x['cpu_percent_schedstat']:.2f} | {x['rss_kib'] / 1024:.1f} |")
        add("")
    if "open_conns" in r:
        add("### Open connections")
        add("")
        add("| aggregation | connections | conns map entries | series | scrape ms | "
            "RSS idle MiB | RSS MiB | peak RSS MiB |")
        add("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for x in r["open_conns"]["runs"]:
            add(f"| {x['aggregation']} | {x['connections']} | {x['conns_map_entries']:.0f} | "
                f"{x['series']} | {spread(x['scrape_ms'], 1)} | {x['rss_idle_kib'] / 1024:.1f} | "
                f"{x['rss_kib'] / 1024:.1f} | {x['hwm_kib'] / 1024:.1f} |")
        add("")
    add("### Targets")
    add("")
    add("| target | value | limit | result |")
    add("| --- | ---: | ---: | --- |")
    for t in r["targets"]:
        add(f"| {t['target']} | {t['value']:.3f} | {t['limit']} | "
            f"{'pass' if t['pass'] else 'FAIL'} |")
    add("")
    c = r["conditions"]
    add(f"Host conditions: {c['quiet_windows']} of {c['windows']} measurements started on a quiet "
        f"host ({c['quiet_rule']}); waited {c['waited_s']:.0f} s in all; busiest start "
        f"{c['max_busy_percent']:.0f}% CPU.")
    add("")
    if r.get("foreign_bpf_programs"):
        add("WARNING: tracing programs of other processes were loaded during the run (they "
            "share the hooks and skew both the baselines and A): "
            + ", ".join(f"{k} (seen {v}x)" for k, v in sorted(r["foreign_bpf_programs"].items())))
        add("")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", required=True, help="directory with the built helpers")
    p.add_argument("--netlens", required=True)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--duration", type=int, help="seconds per wrk / load run")
    p.add_argument("--repeats", type=int, help="rounds of the interleaved comparisons")
    p.add_argument("--parts", help="comma-separated subset of: " + ",".join(REQUIRED))
    p.add_argument("--note", default="", help="free text stored in the JSON")
    p.add_argument("--profile-alt", default="",
                   help="profile: the same programs built from other eBPF sources, measured "
                        "interleaved with this tree's (run.sh --profile-alt-ebpf DIR)")
    p.add_argument("--profile-programs", default="",
                   help="profile: only these programs (comma-separated; empties always)")
    p.add_argument("--baseline-netlens", default="",
                   help="per_event and end_to_end (config D): also measure this daemon (e.g. "
                        "the code before a change), interleaved with --netlens")
    p.add_argument("--wait-quiet", type=float,
                   help="seconds to wait before each measurement for a quiet host "
                        "(default 120; smoke 0)")
    p.add_argument("--wait-budget", type=float, default=900,
                   help="total seconds of such waiting (default 900)")
    p.add_argument("--quiet-busy", type=float, default=25,
                   help="CPU busy %% under which the host counts as quiet (default 25)")
    a = p.parse_args()
    if a.smoke:
        a.duration = a.duration or 2
        a.repeats = a.repeats or 1
        a.event_duration = max(3, a.duration)  # SYN retransmits start 1 s after a connect
        a.variant_duration = a.duration
        a.series_levels = [300, 1000, 3000]
        a.scrapes = 2
        a.open_connections = 1000
        a.wait_quiet = 0 if a.wait_quiet is None else a.wait_quiet
    else:
        a.duration = a.duration or 10
        a.repeats = a.repeats or 3
        a.event_duration = max(3, a.duration)
        a.variant_duration = a.duration
        a.series_levels = [1000, 10000, 100000]
        a.scrapes = 5
        a.open_connections = 10000
        a.wait_quiet = 120 if a.wait_quiet is None else a.wait_quiet
    a.wrk_threads, a.wrk_connections = 2, 32
    # profile and syscall_tp are for investigating: only the smoke run (the harness check)
    # includes them by default, profile with a few programs.
    a.parts = (a.parts.split(",") if a.parts else
               [p_ for p_ in REQUIRED if a.smoke or p_ not in ("profile", "syscall_tp")])
    if a.smoke and not a.profile_programs:
        a.profile_programs = "r_full,s_full"
    for part in a.parts:
        if part not in REQUIRED:
            p.error(f"unknown part {part}")

    bench = Bench(a)

    def on_signal(sig, _frame):
        raise KeyboardInterrupt(f"signal {sig}")

    signal.signal(signal.SIGTERM, on_signal)
    try:
        result = bench.run()
    except (BenchError, subprocess.SubprocessError, OSError) as e:
        log(f"FAILED: {e}")
        return 1
    except KeyboardInterrupt as e:
        log(f"interrupted: {e}")
        return 130
    finally:
        bench.close()
    os.makedirs(a.out_dir, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    path = os.path.join(a.out_dir, f"{stamp}{'-smoke' if a.smoke else ''}.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    text = report(result)
    with open(path[:-5] + ".md", "w") as f:
        f.write(text + "\n")
    print(text)
    print(f"JSON: {path}")
    problems = validate(result, a.parts)
    if problems:
        log("the results are incomplete:\n  " + "\n  ".join(problems))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
