#!/usr/bin/env python3
"""End-to-end test of netlens' fleet integration, on loopback, with the real programs.

    netlens  <-scrape 1s-  Prometheus A  --remote write-->  Prometheus B  -->  Alertmanager  -->  webhook
    (ConfigMap config)     shipped Thanos remote-write      receiver (as Thanos                   (this script)
                           config, recording + alert rules  Receive), shipped alert
                                                            rules + test alerts
                                                            (as Thanos Rule)

Steps and what each asserts:
 1. Servers start: netlens with deploy/kubernetes' ConfigMap config (service_map and Prometheus's HTTP parsing turned on) and only the capabilities
    the DaemonSet grants (setpriv bounding set), Alertmanager with
    deploy/alertmanager/alertmanager.yml (receiver URLs pointed at this script, group_wait 1s),
    Prometheus A from deploy/thanos/prometheus-remote-write.yml (targets, URL and intervals
    swapped for the test's), Prometheus B with --web.enable-remote-write-receiver.
 2. Traffic: nl-traffic (5 connections x 3 rounds, 1000-byte requests, 3000-byte responses,
    held open; unique client and server comms) and a helper with the client's comm, refused 4
    times on a closed loopback port.
 3. Exact counts reach Prometheus B through netlens, A and remote write: connections opened and
    open, bytes and calls of both sides, connect failures (reason "refused"), the pid labels,
    and no connect-failure series for the server (netlens exports no series of zeros).
 4. Alerts: the test alerts (test/fleet/fleet-test.rules.yml) fire in B and reach the webhook
    through Alertmanager: FleetTestConnectionsOpened routed to netlens-warning,
    FleetTestConnectFailures to netlens-critical, with exactly the expected labels.
 5. Rules: every rule of A and B evaluates without error; A's netlens target is up.
 6. Every recording rule expression returns data in B, and so does every recorded series
    (sent by A); the comm-level ones hold the test's processes.
    Every shipped alert expression is EMPTY: all thirteen alerts (NetlensDown,
    NetlensProgramNotAttached, NetlensKernelMapOverflow, NetlensMapNearlyFull,
    NetlensSeriesFolded, TcpRetransmitRatioHigh, TcpConnectFailures, TcpConnectionChurnHigh,
    TcpConnectSlow, TcpAcceptSlow, TcpListenOverflows, ServiceMapEdgeConnectFailures,
    ServiceMapEdgeRequestErrors) are meant to be empty on a healthy host, and each metric they read has data. No shipped
    alert is pending or firing in B.
 7. Grafana: every variable query lists the test's values, and every panel query returns data
    in B, with the variables set to real values twice:
    (a) the helper's comm, pid "All": the nl-traffic client and the connect helper share that
        command name, so it has traffic, open connections and connect failures. Not asserted
        here: queries dividing by a rate guarded with "> 0", because nl-traffic's bytes are one
        burst that may lie before the first sample of its series (rate 0: no value), and
        accept latency: that command only connects (nl-traffic's server has its own comm);
    (b) Prometheus A itself (comm "prometheus", A's pid), whose traffic to netlens and B never
        stops (it also accepts this script's API requests: accept latency). Not asserted here:
        connect-failure queries, empty by design for a process that never failed a connect
        (netlens exports no series of zeros).
    So every panel query is asserted non-empty in at least one of the two runs.
 8. nl-traffic closes its connections: it reports exactly the calls expected, and B sees every
    connection closed and none open.

Root is needed (netlens loads eBPF programs): without root the test exits 77 (skipped), unless
CI=true, where it fails. Every wait is bounded; the whole test takes well under 5 minutes.
All child processes are stopped on exit (and their logs printed on failure).
"""
import argparse
import json
import os
import queue
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml

SKIP = 77
BUDGET_SECONDS = 270
T0 = time.monotonic()

# nl-traffic's run: 5 connections x 3 rounds of 1000-byte requests and 3000-byte responses.
CONNECTIONS, ROUNDS, REQUEST, RESPONSE = 5, 3, 1000, 3000
FAILED_CONNECTS = 4

SHIPPED_ALERTS_EMPTY_WHEN_HEALTHY = [
    "NetlensDown", "NetlensProgramNotAttached", "NetlensKernelMapOverflow",
    "NetlensMapNearlyFull", "NetlensSeriesFolded", "TcpRetransmitRatioHigh",
    "TcpConnectFailures", "TcpConnectionChurnHigh", "TcpConnectSlow", "TcpAcceptSlow",
    "TcpListenOverflows", "ServiceMapEdgeConnectFailures", "ServiceMapEdgeRequestErrors",
]


class TestFailure(Exception):
    pass


def log(message):
    print(f"[fleet {time.monotonic() - T0:6.1f}s] {message}", flush=True)


def check(condition, message):
    if not condition:
        raise TestFailure(message)


def deadline_in(seconds):
    """A deadline `seconds` from now, never past the test's overall budget."""
    return min(time.monotonic() + seconds, T0 + BUDGET_SECONDS)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- HTTP
def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read()


def api(base, path, params, timeout=10):
    """GET/POST a Prometheus API endpoint; returns `data`, raises on an error status."""
    body = urllib.parse.urlencode(params, doseq=True).encode()
    request = urllib.request.Request(base + path, data=body, method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = json.loads(response.read())
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")
        raise TestFailure(f"{path} {params}: HTTP {error.code}: {detail}") from None
    if payload.get("status") != "success":
        raise TestFailure(f"{path} {params}: {payload}")
    return payload["data"]


def api_get(base, path, params=None, timeout=10):
    if params:
        path += "?" + urllib.parse.urlencode(params, doseq=True)
    status, body = http_get(base + path, timeout)
    payload = json.loads(body)
    if payload.get("status") != "success":
        raise TestFailure(f"{path}: {payload}")
    return payload["data"]


def instant(base, expr):
    data = api(base, "/api/v1/query", {"query": expr})
    if data["resultType"] == "scalar":
        return [{"metric": {}, "value": data["result"]}]
    return data["result"]


def range_query(base, expr, seconds=120, step=5):
    end = time.time()
    data = api(base, "/api/v1/query_range",
               {"query": expr, "start": end - seconds, "end": end, "step": step})
    return data["result"]


def scalar_of(base, expr):
    """The single value of `expr`, or None when it returns nothing."""
    result = instant(base, expr)
    if not result:
        return None
    check(len(result) == 1, f"{expr}: expected one series, got {result}")
    return float(result[0]["value"][1])


# ---------------------------------------------------------------- webhook
class Webhook:
    """Alertmanager's webhook receiver: keeps every notification with its path."""

    def __init__(self):
        self.notifications = []
        self.cond = threading.Condition()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                try:
                    payload = json.loads(body)
                except ValueError:
                    payload = {"unparsable": body.decode(errors="replace")}
                with hook.cond:
                    hook.notifications.append((self.path, payload))
                    hook.cond.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, predicate, seconds):
        """The first (path, payload, alert) with predicate(path, payload, alert) true."""
        end = deadline_in(seconds)
        with self.cond:
            while True:
                for path, payload in self.notifications:
                    for alert in payload.get("alerts", []):
                        if predicate(path, payload, alert):
                            return path, payload, alert
                remaining = end - time.monotonic()
                if remaining <= 0:
                    return None
                self.cond.wait(min(remaining, 1.0))


# ---------------------------------------------------------------- processes
class Processes:
    """Child processes, each in its own process group; all stopped by stop_all()."""

    def __init__(self, directory):
        self.directory = directory
        self.children = []  # (name, Popen, log path)

    def start(self, name, argv, stdin=subprocess.DEVNULL, stdout=None):
        path = os.path.join(self.directory, f"{name}.log")
        log_file = open(path, "wb")
        process = subprocess.Popen(argv, stdin=stdin, stdout=stdout or log_file,
                                   stderr=log_file, start_new_session=True)
        log_file.close()
        self.children.append((name, process, path))
        shown = " ".join(arg if "\n" not in arg else "<script>" for arg in argv)
        log(f"started {name} (pid {process.pid}): {shown}")
        return process

    def stop_all(self):
        """Last started first, one at a time: Prometheus A flushes to B before B stops."""
        for name, process, _ in reversed(self.children):
            if process.poll() is not None:
                continue
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=10)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                log(f"{name} did not stop on SIGTERM within 10s: SIGKILL")
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait(timeout=5)

    def check_alive(self):
        for name, process, _ in self.children:
            if name.startswith("nl-traffic") or name.startswith("refused"):
                continue
            if process.poll() is not None:
                raise TestFailure(f"{name} exited early with status {process.returncode}")

    def print_logs(self, lines=80):
        for name, _, path in self.children:
            try:
                with open(path, errors="replace") as f:
                    content = f.readlines()
            except OSError:
                continue
            print(f"----- {name} log ({path}), last {lines} lines -----")
            sys.stdout.writelines(content[-lines:])
        sys.stdout.flush()


def wait_http_ok(url, seconds, processes, what):
    end = deadline_in(seconds)
    last = None
    while time.monotonic() < end:
        processes.check_alive()
        try:
            status, _ = http_get(url, timeout=2)
            if status == 200:
                return
            last = f"HTTP {status}"
        except (urllib.error.URLError, ConnectionError, OSError) as error:
            last = str(error)
        time.sleep(0.3)
    raise TestFailure(f"{what} not ready at {url} within {seconds}s: {last}")


def wait_until(description, seconds, probe, processes):
    """Calls probe() until it returns (True, detail); fails with the last detail."""
    end = deadline_in(seconds)
    detail = None
    while time.monotonic() < end:
        processes.check_alive()
        ok, detail = probe()
        if ok:
            return detail
        time.sleep(0.5)
    raise TestFailure(f"timed out ({seconds}s) waiting for {description}; last: {detail}")


class LineReader:
    """Reads a child's stdout lines on a thread, so that reads can time out."""

    def __init__(self, stream):
        self.lines = queue.Queue()
        self.thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self.thread.start()

    def _run(self, stream):
        for raw in stream:
            self.lines.put(raw.decode(errors="replace").rstrip("\n"))
        self.lines.put(None)

    def until(self, last_line, seconds):
        end = deadline_in(seconds)
        got = []
        while True:
            remaining = end - time.monotonic()
            if remaining <= 0:
                raise TestFailure(f"no '{last_line}' within {seconds}s; got {got}")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise TestFailure(f"output ended before '{last_line}'; got {got}")
            got.append(line)
            if line == last_line:
                return got


def key_values(lines):
    values = {}
    for line in lines:
        for pair in line.split():
            if "=" in pair:
                key, value = pair.split("=", 1)
                values.setdefault(key, value)
    return values


# ---------------------------------------------------------------- configs
def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


def write_yaml(path, data):
    with open(path, "w") as f:
        yaml.safe_dump(data, f, sort_keys=False)


def alertmanager_config(source, webhook_port, path):
    config = load_yaml(source)
    for receiver in config["receivers"]:
        hooks = receiver.get("webhook_configs", [])
        check(hooks, f"receiver {receiver['name']} has no webhook to point at the test")
        for hook in hooks:
            hook["url"] = f"http://127.0.0.1:{webhook_port}/{receiver['name']}"
    # Timing only: the first notification of a group after 1s instead of 30s.
    config["route"]["group_wait"] = "1s"
    config["route"]["group_interval"] = "1s"
    write_yaml(path, config)


def prometheus_a_config(source, repo, netlens_port, b_port, path):
    """deploy/thanos/prometheus-remote-write.yml with the test's targets, URL and intervals."""
    config = load_yaml(source)
    config["global"]["scrape_interval"] = "1s"
    config["global"]["evaluation_interval"] = "1s"
    config["global"]["external_labels"] = {"cluster": "fleet-test", "replica": "prometheus-a"}
    # The same rules as the shipped Prometheus: recording and alerting.
    config["rule_files"] = [
        os.path.join(repo, "deploy/prometheus/rules/netlens-recording.rules.yml"),
        os.path.join(repo, "deploy/prometheus/rules/netlens-alerts.rules.yml"),
    ]
    jobs = [job for job in config["scrape_configs"] if job["job_name"] == "netlens"]
    check(len(jobs) == 1, "prometheus-remote-write.yml: expected one job named netlens")
    jobs[0]["scrape_interval"] = "1s"
    jobs[0]["scrape_timeout"] = "1s"
    jobs[0]["static_configs"] = [{"targets": [f"127.0.0.1:{netlens_port}"]}]
    check(len(config["remote_write"]) == 1, "prometheus-remote-write.yml: expected one remote_write")
    config["remote_write"][0]["url"] = f"http://127.0.0.1:{b_port}/api/v1/write"
    config["remote_write"][0].setdefault("queue_config", {})["batch_send_deadline"] = "1s"
    write_yaml(path, config)


def prometheus_b_config(repo, test_rules, am_port, path):
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [os.path.join(repo, "deploy/prometheus/rules/netlens-alerts.rules.yml"),
                       test_rules],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
    }
    write_yaml(path, config)


def daemonset_capabilities(repo):
    for document in yaml.safe_load_all(open(os.path.join(repo, "deploy/kubernetes/daemonset.yaml"))):
        if document and document.get("kind") == "DaemonSet":
            (container,) = document["spec"]["template"]["spec"]["containers"]
            return container["securityContext"]["capabilities"]["add"]
    raise TestFailure("deploy/kubernetes/daemonset.yaml: no DaemonSet")


def configmap_netlens_config(repo, path):
    """The ConfigMap's config, with the service map and Prometheus's HTTP parsing on (off there
    by default: their cost), so that the edge rules and the dashboard are checked against real
    series too."""
    for document in yaml.safe_load_all(open(os.path.join(repo, "deploy/kubernetes/configmap.yaml"))):
        if document and document.get("kind") == "ConfigMap":
            config = yaml.safe_load(document["data"]["netlens.yaml"])
            config["service_map"] = {"enabled": True}
            # Requests per edge: Prometheus's own HTTP (A's scrapes of netlens, its remote
            # writes to B) parsed, so the edge request rules have series too.
            config["http_requests"] = {"processes": {"include": [{"comm": "prometheus"}]}}
            with open(path, "w") as f:
                yaml.safe_dump(config, f)
            return
    raise TestFailure("deploy/kubernetes/configmap.yaml: no ConfigMap")


# ---------------------------------------------------------------- rules and dashboards
def rules_of(path):
    return [rule for group in load_yaml(path)["groups"] for rule in group["rules"]]


METRIC_TOKEN = re.compile(r"\b(netlens_[a-z_]+|[a-z_]+:netlens_[a-z_]+:[a-z_0-9]+|up)\b")


def metrics_in(expr):
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    return sorted(set(METRIC_TOKEN.findall(without_strings)))


VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)")


def substitute(expr, values):
    def replace(match):
        name = match.group(1) or match.group(2) or match.group(3)
        if name not in values:
            raise TestFailure(f"undefined dashboard variable ${name} in: {expr}")
        return values[name]
    return VARIABLE.sub(replace, expr)


def dashboard_targets(dashboard):
    """(panel title, target) for every query of every panel, rows' panels included."""
    out = []

    def visit(panels):
        for panel in panels:
            for target in panel.get("targets", []):
                out.append((panel.get("title", "?"), target))
            visit(panel.get("panels", []))
    visit(dashboard["panels"])
    return out


LABEL_VALUES = re.compile(r"^label_values\((?:(.+),\s*)?(\w+)\)$")


def check_variables(base, dashboard, values, expected, name):
    """Each query variable, with the others set to `values`, lists expected[its name]."""
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"] if isinstance(variable["query"], str) else variable["query"]["query"]
        match = LABEL_VALUES.match(substitute(query, values))
        check(match, f"{name}: variable {variable['name']}: not a label_values() query: {query}")
        selector, label = match.groups()
        params = {"match[]": selector} if selector else {}
        listed = api_get(base, f"/api/v1/label/{label}/values", params)
        want = expected[variable["name"]]
        check(want in listed, f"{name}: variable {variable['name']} ({query}) lists {listed}, not {want}")
        log(f"  {name}: variable {variable['name']} lists {want} ({len(listed)} values)")


RATE_GUARD = re.compile(r">\s*0\s*\)")


def check_dashboard(base, dashboard, values, name, not_asserted):
    """Every query returns data, but those for which not_asserted(expr) gives a reason."""
    checked = 0
    skipped = {}
    for title, target in dashboard_targets(dashboard):
        expr = substitute(target["expr"], values)
        reason = not_asserted(expr)
        if reason:
            skipped[reason] = skipped.get(reason, 0) + 1
            continue
        if target.get("instant") and not target.get("range"):
            result = instant(base, expr)
        else:
            result = range_query(base, expr)
        check(result, f"{name}: panel '{title}' target {target['refId']} returned no data:\n{expr}")
        checked += 1
    log(f"  {name}: {checked} panel queries returned data"
        + "".join(f"; {count} not asserted: {reason}" for reason, count in skipped.items()))


# ---------------------------------------------------------------- the test
def run(args, tmp, processes, webhook):
    repo = args.source_dir
    token = secrets.token_hex(3)
    # The connect helper takes the client's command name: one "process" (comm) that talks,
    # holds connections open and fails connects, so every panel of it has data.
    client_comm, server_comm = f"nlfleetc{token}", f"nlfleets{token}"
    ports = {name: free_port() for name in ("netlens", "prom_a", "prom_b", "alertmanager")}
    netlens_base = f"http://127.0.0.1:{ports['netlens']}"
    a_base = f"http://127.0.0.1:{ports['prom_a']}"
    b_base = f"http://127.0.0.1:{ports['prom_b']}"
    am_base = f"http://127.0.0.1:{ports['alertmanager']}"
    instance = f"127.0.0.1:{ports['netlens']}"
    log(f"ports {ports}, webhook {webhook.port}; comms {client_comm} {server_comm}")

    # 1. servers
    webhook.start()
    alertmanager_config(os.path.join(repo, "deploy/alertmanager/alertmanager.yml"), webhook.port,
                        os.path.join(tmp, "alertmanager.yml"))
    processes.start("alertmanager", [
        args.alertmanager, f"--config.file={tmp}/alertmanager.yml", f"--storage.path={tmp}/am",
        f"--web.listen-address=127.0.0.1:{ports['alertmanager']}", "--cluster.listen-address=",
        "--log.level=debug"])

    # netlens as the DaemonSet runs it: its ConfigMap's config, and only the capabilities the
    # DaemonSet adds (root's capabilities after exec are its bounding set). With --accounting
    # events: the checks below cover the call counts and response times of the dashboards and
    # recording rules, which only per-event accounting has.
    configmap_netlens_config(repo, os.path.join(tmp, "netlens.yaml"))
    capabilities = ",".join("+" + c.lower() for c in daemonset_capabilities(repo))
    setpriv = shutil.which("setpriv")
    check(setpriv, "setpriv (util-linux) not found")
    processes.start("netlens", [setpriv, f"--bounding-set=-all,{capabilities}", "--inh-caps=-all",
                                "--", args.netlens, "--config", f"{tmp}/netlens.yaml",
                                "--listen", instance, "--accounting", "events"])

    with open(os.path.join(repo, "test/fleet/fleet-test.rules.yml")) as f:
        test_rules = f.read().replace("@COMM@", client_comm)
    with open(os.path.join(tmp, "fleet-test.rules.yml"), "w") as f:
        f.write(test_rules)
    prometheus_b_config(repo, os.path.join(tmp, "fleet-test.rules.yml"), ports["alertmanager"],
                        os.path.join(tmp, "prometheus-b.yml"))
    processes.start("prometheus-b", [
        args.prometheus, f"--config.file={tmp}/prometheus-b.yml", f"--storage.tsdb.path={tmp}/b",
        f"--web.listen-address=127.0.0.1:{ports['prom_b']}", "--web.enable-remote-write-receiver"])

    prometheus_a_config(os.path.join(repo, "deploy/thanos/prometheus-remote-write.yml"), repo,
                        ports["netlens"], ports["prom_b"], os.path.join(tmp, "prometheus-a.yml"))
    prom_a = processes.start("prometheus-a", [
        args.prometheus, f"--config.file={tmp}/prometheus-a.yml", f"--storage.tsdb.path={tmp}/a",
        f"--web.listen-address=127.0.0.1:{ports['prom_a']}"])

    wait_http_ok(f"{am_base}/-/ready", 60, processes, "Alertmanager")
    wait_http_ok(f"{netlens_base}/metrics", 60, processes, "netlens")
    wait_http_ok(f"{b_base}/-/ready", 60, processes, "Prometheus B")
    wait_http_ok(f"{a_base}/-/ready", 60, processes, "Prometheus A")
    log("all servers ready")
    # netlens serves HTTP before its programs are attached: wait until every one is.
    def attached():
        try:
            _, body = http_get(f"{netlens_base}/metrics")
        except OSError as error:
            return False, str(error)
        states = re.findall(r"^netlens_program_attached\{[^}]*\} (\S+)$", body.decode(), re.M)
        return bool(states) and all(v == "1" for v in states), states
    wait_until("netlens' programs attached", 60, attached, processes)
    # Prometheus A forwards only what it scrapes once its remote-write queue has replayed the
    # WAL (a few seconds after start): wait for netlens' samples to arrive in B first.
    wait_until("netlens' samples in Prometheus B (remote write flowing)", 60,
               lambda: (bool(instant(b_base, f'up{{job="netlens", instance="{instance}"}} == 1')
                             and instant(b_base, f'netlens_build_info{{instance="{instance}"}}')),
                        None), processes)
    log("remote write from A to B is flowing")

    # 2. traffic
    traffic = processes.start("nl-traffic", [
        args.nl_traffic, "--comm", client_comm, "--server-comm", server_comm,
        "--connections", str(CONNECTIONS), "--rounds", str(ROUNDS),
        "--request", str(REQUEST), "--response", str(RESPONSE), "--hold"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    reader = LineReader(traffic.stdout)
    started = key_values(reader.until("ready", 30))
    client_pid, server_pid = started["client_pid"], started["server_pid"]
    server_port = started["port"]
    log(f"nl-traffic ready: client pid {client_pid}, server pid {server_pid}, port {server_port}")

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connects are refused
        closed_port = closed.getsockname()[1]
        # Two bursts 3s (3 scrapes) apart: the failure counter grows between samples, so its
        # rate, and the failure ratio recorded from it, have values.
        refused = processes.start("refused", [sys.executable, "-c", (
            "import socket, sys, time\n"
            "with open('/proc/self/comm', 'w') as f: f.write(sys.argv[1])\n"
            "for i in range(int(sys.argv[3])):\n"
            "    if i == int(sys.argv[3]) // 2: time.sleep(3)\n"
            "    with socket.socket() as s:\n"
            "        try:\n"
            "            s.connect(('127.0.0.1', int(sys.argv[2])))\n"
            "            sys.exit('connected to a closed port')\n"
            "        except ConnectionRefusedError:\n"
            "            pass\n"), client_comm, str(closed_port), str(FAILED_CONNECTS)])
        check(refused.wait(timeout=30) == 0, "the connect helper failed")
    log(f"{client_comm} (pid {refused.pid}) was refused {FAILED_CONNECTS} times on port {closed_port}")

    # 3. exact counts in B
    client = f'comm="{client_comm}", direction="active"'
    server = f'comm="{server_comm}", direction="passive"'
    exact = [
        (f"sum(netlens_tcp_connections_opened_total{{{client}}})", CONNECTIONS),
        (f"sum(netlens_tcp_connections_opened_total{{{server}}})", CONNECTIONS),
        (f"sum(netlens_tcp_connections_open{{{client}}})", CONNECTIONS),
        (f"sum(netlens_tcp_connections_open{{{server}}})", CONNECTIONS),
        (f"sum(netlens_tcp_sent_bytes_total{{{client}}})", CONNECTIONS * ROUNDS * REQUEST),
        (f"sum(netlens_tcp_received_bytes_total{{{client}}})", CONNECTIONS * ROUNDS * RESPONSE),
        (f"sum(netlens_tcp_sent_bytes_total{{{server}}})", CONNECTIONS * ROUNDS * RESPONSE),
        (f"sum(netlens_tcp_received_bytes_total{{{server}}})", CONNECTIONS * ROUNDS * REQUEST),
        (f"sum(netlens_tcp_send_calls_total{{{client}}})", CONNECTIONS * ROUNDS),
        (f"sum(netlens_tcp_receive_calls_total{{{client}}})", CONNECTIONS * ROUNDS),
        (f"sum(netlens_tcp_send_calls_total{{{server}}})", CONNECTIONS * ROUNDS),
        (f"sum(netlens_tcp_receive_calls_total{{{server}}})", CONNECTIONS * ROUNDS),
        (f'sum(netlens_tcp_connect_failures_total{{{client}, reason="refused", '
         f'remote_address="127.0.0.1", service_port="{closed_port}"}})', FAILED_CONNECTS),
        (f"count(netlens_tcp_connect_failures_total{{{client}}})", 1),
        (f"count(netlens_tcp_connect_failures_total{{{server}}})", None),
        # Where each came from: the pid labels, and the remote endpoint.
        (f'count(netlens_tcp_sent_bytes_total{{{client}, pid="{client_pid}", '
         f'remote_address="127.0.0.1", service_port="{server_port}"}})', 1),
        (f'count(netlens_tcp_sent_bytes_total{{{server}, pid="{server_pid}", '
         f'remote_address="127.0.0.1", service_port="{server_port}"}})', 1),
        (f'count(netlens_tcp_connect_failures_total{{{client}, pid="{refused.pid}"}})', 1),
        (f'count(netlens_tcp_sent_bytes_total{{comm=~"nlfleet[cs]{token}", '
         f'instance="{instance}", job="netlens", cluster="fleet-test", replica="prometheus-a"}})', 2),
    ]

    def all_exact():
        got = [(expr, want, scalar_of(b_base, expr)) for expr, want in exact]
        wrong = [(expr, want, value) for expr, want, value in got if value != want]
        return not wrong, wrong
    wait_until("exact counts in Prometheus B", 60, all_exact, processes)
    log(f"{len(exact)} exact counts are right in Prometheus B")

    # 4. alerts through Alertmanager to the webhook
    expected_alerts = {
        "FleetTestConnectionsOpened": ("/netlens-warning", "netlens-warning", {
            "alertname": "FleetTestConnectionsOpened", "severity": "warning", "comm": client_comm,
            "job": "netlens", "instance": instance, "cluster": "fleet-test",
            "replica": "prometheus-a"},
            {"summary": f"{client_comm} opened {CONNECTIONS} connections"}),
        "FleetTestConnectFailures": ("/netlens-critical", "netlens-critical", {
            "alertname": "FleetTestConnectFailures", "severity": "critical", "comm": client_comm,
            "job": "netlens", "instance": instance, "cluster": "fleet-test",
            "replica": "prometheus-a", "remote_address": "127.0.0.1",
            "service_port": str(closed_port), "reason": "refused"},
            {"summary": f"{client_comm} failed {FAILED_CONNECTS} connects to "
                        f"127.0.0.1:{closed_port} (refused)"}),
    }
    for alertname, (path, receiver, labels, annotations) in expected_alerts.items():
        found = webhook.wait_for(
            lambda p, payload, alert, name=alertname: alert["labels"].get("alertname") == name, 90)
        check(found, f"no notification of {alertname} reached the webhook within 90s; "
                     f"received: {webhook.notifications}")
        got_path, payload, alert = found
        check(got_path == path, f"{alertname}: delivered to {got_path}, expected {path}")
        check(payload.get("receiver") == receiver, f"{alertname}: receiver {payload.get('receiver')}")
        check(payload.get("version") == "4", f"{alertname}: webhook payload version {payload.get('version')}")
        check(alert.get("status") == "firing", f"{alertname}: status {alert.get('status')}")
        check(alert["labels"] == labels, f"{alertname}: labels {alert['labels']}, expected {labels}")
        check(alert["annotations"] == annotations,
              f"{alertname}: annotations {alert['annotations']}, expected {annotations}")
        check(payload.get("groupLabels") == {k: labels[k] for k in ("alertname", "cluster", "instance")},
              f"{alertname}: groupLabels {payload.get('groupLabels')}")
        log(f"webhook got {alertname} on {path} with the expected labels")

    # 5. rule health, target health
    for name, base in (("Prometheus A", a_base), ("Prometheus B", b_base)):
        groups = api_get(base, "/api/v1/rules")["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        bad = [(rule["name"], rule.get("lastError")) for rule in rules if rule.get("health") != "ok"]
        check(not bad, f"{name}: rules not healthy: {bad}")
        log(f"{name}: {len(rules)} rules, all evaluate without error")
    targets = api_get(a_base, "/api/v1/targets")["activeTargets"]
    check([t["health"] for t in targets if t["labels"].get("job") == "netlens"] == ["up"],
          f"Prometheus A's netlens target: {targets}")

    # 6. rule expressions against B
    recording = rules_of(os.path.join(repo, "deploy/prometheus/rules/netlens-recording.rules.yml"))
    ours = f"{client_comm}|{server_comm}"

    # Ratios divide by a rate guarded with "> 0": the test's bursts have none (see step 7).
    per_comm = [rule["record"] for rule in recording
                if rule["record"].startswith("comm") and not re.search(r">\s*0\s*\)", rule["expr"])]

    def recorded_ready():
        missing = [record for record in per_comm
                   if not instant(b_base, f'{record}{{comm=~"{ours}"}}')]
        return not missing, missing
    wait_until("recorded series of the test's processes in B", 60, recorded_ready, processes)
    for rule in recording:
        check(instant(b_base, rule["expr"]), f"recording rule {rule['record']}: its expression "
                                            f"returns nothing in B:\n{rule['expr']}")
        check(instant(b_base, rule["record"]), f"recorded series {rule['record']} not in B")
    remote = instant(b_base, f'remote:netlens_tcp_bytes:rate5m{{remote_address="127.0.0.1", '
                             f'service_port="{server_port}"}}')
    check(len(remote) == 1, f"remote:netlens_tcp_bytes:rate5m for the test's server: {remote}")
    log(f"{len(recording)} recording rules return data in B; recorded series arrived from A")

    alerting = rules_of(os.path.join(repo, "deploy/prometheus/rules/netlens-alerts.rules.yml"))
    check(sorted(rule["alert"] for rule in alerting) == sorted(SHIPPED_ALERTS_EMPTY_WHEN_HEALTHY),
          "the shipped alerts changed: update SHIPPED_ALERTS_EMPTY_WHEN_HEALTHY and this test")
    for rule in alerting:
        result = instant(b_base, rule["expr"])
        # On a shared host other processes' traffic may trip a Tcp* alert: only the test's
        # processes and netlens itself are asserted (in CI nothing else runs).
        mine = [r for r in result if r["metric"].get("instance") == instance
                and ("comm" not in r["metric"] or re.fullmatch(ours, r["metric"]["comm"]))]
        check(not mine, f"alert {rule['alert']} is meant to be empty on a healthy host, got: {mine}")
        if len(result) != len(mine):
            log(f"  note: {rule['alert']} matches other processes on this host: {result}")
        for metric in metrics_in(rule["expr"]):
            check(instant(b_base, metric), f"alert {rule['alert']} reads {metric}, which has no data")
    log(f"{len(alerting)} shipped alert expressions are empty and read metrics that exist")

    active = api_get(b_base, "/api/v1/alerts")["alerts"]
    shipped_active = [a for a in active if a["labels"]["alertname"] in SHIPPED_ALERTS_EMPTY_WHEN_HEALTHY
                      and a["labels"].get("instance") == instance
                      and re.fullmatch(ours, a["labels"].get("comm", client_comm))]
    check(not shipped_active, f"shipped alerts active in B: {shipped_active}")
    test_firing = sorted(a["labels"]["alertname"] for a in active
                         if a["labels"]["alertname"].startswith("FleetTest") and a["state"] == "firing")
    check(test_firing == sorted(expected_alerts), f"test alerts firing in B: {test_firing}")

    # 7. Grafana dashboards
    dashboards = {}
    for name in sorted(os.listdir(os.path.join(repo, "grafana/dashboards"))):
        with open(os.path.join(repo, "grafana/dashboards", name)) as f:
            dashboards[name] = json.load(f)
    check(len(dashboards) == 4, f"expected 4 dashboards, found {sorted(dashboards)}")
    grafana = {"__rate_interval": "5m", "__range": "5m", "__interval": "15s"}

    def burst(expr):
        if RATE_GUARD.search(expr):
            return "rate-guarded (one burst of traffic: rate 0, no value), asserted with Prometheus A"
        if "accept_duration" in expr:
            return "accept latency (this command never accepts), asserted with Prometheus A"
        if "netlens_service_map_request" in expr:
            return "edge requests (nl-traffic speaks no HTTP), asserted with Prometheus A"
        return None

    def never_fails(expr):
        if "netlens_tcp_connect_failures_total" in expr or "netlens_service_map_connect_failures_total" in expr:
            return "connect failures (Prometheus A never fails a connect), asserted with the helper"
        return None

    runs = [
        # pid "All" (Grafana's allValue ".*"): the nl-traffic client and the connect helper.
        # The service map's workload: the same processes, as clients of their edges.
        ("the helper's comm", {"instance": instance, "comm": client_comm, "pid": ".*",
                               "workload": client_comm},
         {"instance": instance, "comm": client_comm, "pid": client_pid, "workload": client_comm},
         burst),
        ("Prometheus A", {"instance": instance, "comm": "prometheus", "pid": str(prom_a.pid),
                          "workload": "prometheus"},
         {"instance": instance, "comm": "prometheus", "pid": str(prom_a.pid),
          "workload": "prometheus"}, never_fails),
    ]
    for label, values, listed, not_asserted in runs:
        log(f"dashboards with {label}: {values}")
        for name, dashboard in dashboards.items():
            check_variables(b_base, dashboard, {**grafana, **values}, listed, name)
            check_dashboard(b_base, dashboard, {**grafana, **values}, name, not_asserted)

    # 8. close the connections
    traffic.stdin.write(b"close\n")
    traffic.stdin.flush()
    finished = key_values(reader.until("done", 60))
    check(traffic.wait(timeout=30) == 0, f"nl-traffic exited with {traffic.returncode}")
    for key in ("client_send_calls", "client_recv_calls", "server_send_calls", "server_recv_calls"):
        check(int(finished[key]) == CONNECTIONS * ROUNDS,
              f"nl-traffic made {finished[key]} {key}, expected {CONNECTIONS * ROUNDS}")
    closing = [
        (f"sum(netlens_tcp_connections_closed_total{{{client}}})", CONNECTIONS),
        (f"sum(netlens_tcp_connections_closed_total{{{server}}})", CONNECTIONS),
        (f"sum(netlens_tcp_connections_open{{{client}}})", 0),
        (f"sum(netlens_tcp_connections_open{{{server}}})", 0),
    ]

    def all_closed():
        wrong = [(e, w, v) for e, w in closing if (v := scalar_of(b_base, e)) != w]
        return not wrong, wrong
    wait_until("closed connections in Prometheus B", 60, all_closed, processes)
    log("nl-traffic closed its connections: B sees 5 closed and 0 open on both sides")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--netlens", required=True)
    parser.add_argument("--nl-traffic", required=True)
    parser.add_argument("--prometheus", required=True)
    parser.add_argument("--alertmanager", required=True)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    in_ci = os.environ.get("CI") == "true"
    problems = []
    if os.geteuid() != 0:
        problems.append("needs root to load netlens' eBPF programs")
    for tool in ("netlens", "nl_traffic", "prometheus", "alertmanager"):
        path = getattr(args, tool)
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            problems.append(f"{tool} not found ({path}); scripts/install-deps.sh installs it")
    if problems:
        for problem in problems:
            print(f"fleet end-to-end: {problem}", flush=True)
        if in_ci:
            print("fleet end-to-end: FAILED (CI=true: never skipped)", flush=True)
            return 1
        print("fleet end-to-end: SKIPPED", flush=True)
        return SKIP

    tmp = tempfile.mkdtemp(prefix="netlens-fleet-")
    processes = Processes(tmp)
    webhook = Webhook()

    def on_signal(signum, _frame):
        raise TestFailure(f"stopped by signal {signum}")
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, on_signal)

    ok = False
    try:
        run(args, tmp, processes, webhook)
        ok = True
    except (TestFailure, subprocess.TimeoutExpired, OSError, urllib.error.URLError) as error:
        print(f"fleet end-to-end: FAILED: {error}", flush=True)
    finally:
        processes.stop_all()
        webhook.stop()
        if not ok:
            processes.print_logs()
            print(f"----- webhook notifications: {json.dumps(webhook.notifications)[:4000]}")
        if args.keep or not ok:
            print(f"fleet end-to-end: files kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    log("PASSED" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
