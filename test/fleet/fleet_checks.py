#!/usr/bin/env python3
"""Checks of netlens' fleet files (deploy/, grafana/) with the real tools; one ctest entry each.

    fleet_checks.py promtool-check-config  PROMTOOL FILE...   promtool check config
    fleet_checks.py promtool-check-k8s     PROMTOOL FILE      the same, kubernetes_sd swapped for
                                                             static targets (Debian's promtool has
                                                             no Kubernetes discovery)
    fleet_checks.py promtool-check-rules   PROMTOOL FILE...   promtool check rules
    fleet_checks.py promtool-test-rules    PROMTOOL FILE...   promtool test rules
    fleet_checks.py rule-policy            SOURCE_DIR         every alert and recording rule follows
                                                             the conventions and has promtool tests
                                                             of both outcomes
    fleet_checks.py alertmanager-config    AMTOOL SOURCE_DIR  amtool check-config, and each shipped
                                                             alert routed to its severity's receiver
    fleet_checks.py alertmanager-inhibit   ALERTMANAGER SOURCE_DIR
                                                             a real Alertmanager with the shipped
                                                             config: NetlensDown inhibits the other
                                                             alerts of its host, critical inhibits
                                                             warning; routing reaches the webhooks
    fleet_checks.py syntax                 SOURCE_DIR         JSON/YAML syntax of every dashboard,
                                                             provisioning file, manifest and config;
                                                             dashboard, provisioning, Thanos structure
    fleet_checks.py kubernetes             NETLENS SOURCE_DIR manifests' invariants; the ConfigMap's
                                                             config passes netlens --check-config

A missing tool fails the check under CI=true and skips it (exit 77) otherwise. No root needed.
"""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml

SKIP = 77


class CheckFailure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailure(message)


def require_tool(path, name):
    if path and os.path.isfile(path) and os.access(path, os.X_OK):
        return
    print(f"{name} not found ({path}); scripts/install-deps.sh installs it", flush=True)
    if os.environ.get("CI") == "true":
        print("FAILED (CI=true: never skipped)", flush=True)
        sys.exit(1)
    print("SKIPPED", flush=True)
    sys.exit(SKIP)


def run_tool(argv, expect_ok=True):
    result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            timeout=120)
    print(f"$ {' '.join(argv)}\n{result.stdout}", end="", flush=True)
    if expect_ok:
        check(result.returncode == 0, f"{' '.join(argv)}: exit status {result.returncode}")
    return result


def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


def rules_of(path):
    return [rule for group in load_yaml(path)["groups"] for rule in group["rules"]]


ALERT_RULES = "deploy/prometheus/rules/netlens-alerts.rules.yml"
RECORDING_RULES = "deploy/prometheus/rules/netlens-recording.rules.yml"


# ---------------------------------------------------------------- promtool
def promtool_check_config(promtool, *files):
    require_tool(promtool, "promtool")
    for path in files:
        run_tool([promtool, "check", "config", path])


def promtool_check_k8s(promtool, path):
    require_tool(promtool, "promtool")
    config = load_yaml(path)
    swapped = 0
    for section in [*config.get("scrape_configs", []),
                    *config.get("alerting", {}).get("alertmanagers", [])]:
        if section.pop("kubernetes_sd_configs", None) is not None:
            section["static_configs"] = [{"targets": ["127.0.0.1:9"]}]
            swapped += 1
    check(swapped >= 1, f"{path}: no kubernetes_sd_configs")
    base = os.path.dirname(os.path.abspath(path))
    config["rule_files"] = [os.path.join(base, rule) for rule in config.get("rule_files", [])]
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, os.path.basename(path))
        with open(copy, "w") as f:
            yaml.safe_dump(config, f)
        print(f"{path}: {swapped} kubernetes_sd_configs replaced by static targets")
        run_tool([promtool, "check", "config", copy])


def promtool_rules(verb, promtool, *files):
    require_tool(promtool, "promtool")
    check(files, "no files")
    run_tool([promtool, verb, "rules", *files])


# ---------------------------------------------------------------- rule policy
RECORD_NAME = re.compile(r"^[a-z_]+:[a-z_]+:[a-z0-9_]+$")


def rule_policy(source):
    alerts = rules_of(os.path.join(source, ALERT_RULES))
    records = rules_of(os.path.join(source, RECORDING_RULES))
    names = [a["alert"] for a in alerts]
    check(len(set(names)) == len(names), f"duplicate alert names: {names}")
    for alert in alerts:
        name = alert["alert"]
        check(alert.get("labels", {}).get("severity") in ("critical", "warning", "info"),
              f"{name}: severity label must be critical, warning or info")
        for key in ("summary", "description"):
            check(alert.get("annotations", {}).get(key), f"{name}: no {key} annotation")
    for record in records:
        check(RECORD_NAME.match(record["record"]),
              f"{record['record']}: not level:metric:operations")

    # promtool tests: every alert fires in some case and stays silent in another; every
    # recording rule produces samples in some case and none in another.
    fired, silent, produced, empty = set(), set(), set(), set()
    tests_dir = os.path.join(source, "deploy/prometheus/tests")
    for name in sorted(os.listdir(tests_dir)):
        if not name.endswith(".yml"):
            continue
        for test in load_yaml(os.path.join(tests_dir, name))["tests"]:
            for case in test.get("alert_rule_test", []):
                (fired if case.get("exp_alerts") else silent).add(case["alertname"])
            for case in test.get("promql_expr_test", []):
                used = set(re.findall(r"[a-z_]+:[a-z_]+:[a-z0-9_]+", case["expr"]))
                (produced if case.get("exp_samples") else empty).update(used)
    for name in names:
        check(name in fired, f"alert {name}: no promtool test where it fires")
        check(name in silent, f"alert {name}: no promtool test where it does not fire")
    for record in (r["record"] for r in records):
        check(record in produced, f"recording rule {record}: no promtool test of its values")
        check(record in empty, f"recording rule {record}: no promtool test where it is empty")
    print(f"{len(alerts)} alerts and {len(records)} recording rules: conventions followed, "
          f"each tested with both outcomes")


# ---------------------------------------------------------------- alertmanager
RECEIVER_OF = {"critical": "netlens-critical", "warning": "netlens-warning", "info": "netlens-info"}


def alertmanager_config(amtool, source):
    require_tool(amtool, "amtool")
    config = os.path.join(source, "deploy/alertmanager/alertmanager.yml")
    run_tool([amtool, "check-config", config])
    cases = [({"alertname": a["alert"], "severity": a["labels"]["severity"],
               "instance": "h1:9750"}, RECEIVER_OF[a["labels"]["severity"]])
             for a in rules_of(os.path.join(source, ALERT_RULES))]
    cases.append(({"alertname": "Other", "severity": "page-me"}, "netlens-warning"))
    cases.append(({"alertname": "Other"}, "netlens-warning"))
    for labels, receiver in cases:
        argv = [amtool, "config", "routes", "test", f"--config.file={config}",
                f"--verify.receivers={receiver}", *[f"{k}={v}" for k, v in labels.items()]]
        result = run_tool(argv, expect_ok=False)
        check(result.returncode == 0 and result.stdout.strip().splitlines()[-1] == receiver,
              f"{labels} should route to {receiver}")
    print(f"{len(cases)} label sets routed to the expected receivers")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alertmanager_inhibit(alertmanager, source):
    """A real Alertmanager, the shipped config (webhooks pointed here, group_wait 1s)."""
    require_tool(alertmanager, "prometheus-alertmanager")
    received = []
    cond = threading.Condition()

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with cond:
                received.append((self.path, json.loads(body)))
                cond.notify_all()
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    hook = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    config = load_yaml(os.path.join(source, "deploy/alertmanager/alertmanager.yml"))
    for receiver in config["receivers"]:
        for webhook in receiver["webhook_configs"]:
            webhook["url"] = f"http://127.0.0.1:{hook.server_address[1]}/{receiver['name']}"
    config["route"]["group_wait"] = "1s"
    config["route"]["group_interval"] = "1s"

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "alertmanager.yml"), "w") as f:
            yaml.safe_dump(config, f)
        log_path = os.path.join(tmp, "alertmanager.log")
        with open(log_path, "wb") as log_file:
            am = subprocess.Popen([alertmanager, f"--config.file={tmp}/alertmanager.yml",
                                   f"--storage.path={tmp}/data", f"--web.listen-address=127.0.0.1:{port}",
                                   "--cluster.listen-address="], stdout=log_file, stderr=log_file,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            _inhibit_scenario(base, received, cond, am)
        except Exception:
            with open(log_path, errors="replace") as f:
                print("----- alertmanager log -----\n" + f.read()[-6000:])
            raise
        finally:
            am.terminate()
            try:
                am.wait(timeout=10)
            except subprocess.TimeoutExpired:
                am.kill()
                am.wait(timeout=5)
            hook.shutdown()
            hook.server_close()


def _inhibit_scenario(base, received, cond, am):
    end = time.monotonic() + 30
    while True:
        check(am.poll() is None, f"alertmanager exited with {am.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/-/ready", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        check(time.monotonic() < end, "alertmanager not ready within 30s")
        time.sleep(0.3)

    def alert(**labels):
        return {"labels": {"cluster": "c1", "job": "netlens", **labels},
                "annotations": {"summary": "test"},
                "startsAt": datetime.now(timezone.utc).isoformat(),
                "endsAt": (datetime.now(timezone.utc) + timedelta(minutes=10)).isoformat()}

    alerts = [
        # h1: netlens down; its other alerts are inhibited.
        alert(alertname="NetlensDown", severity="critical", instance="h1:9750"),
        alert(alertname="NetlensMapNearlyFull", severity="warning", instance="h1:9750", map="tcp_conns"),
        alert(alertname="TcpConnectFailures", severity="warning", instance="h1:9750", comm="app"),
        alert(alertname="TcpConnectionChurnHigh", severity="info", instance="h1:9750", comm="php"),
        # h2: same alert on a host whose netlens is up: delivered.
        alert(alertname="TcpConnectFailures", severity="warning", instance="h2:9750", comm="app"),
        # h1 in another cluster: not inhibited by c1's NetlensDown.
        {**alert(alertname="NetlensSeriesFolded", severity="warning", instance="h1:9750"),
         "labels": {"cluster": "c2", "job": "netlens", "alertname": "NetlensSeriesFolded",
                    "severity": "warning", "instance": "h1:9750"}},
        # h3: the critical version of an alert inhibits the warning one.
        alert(alertname="TcpRetransmitRatioHigh", severity="critical", instance="h3:9750", comm="db"),
        alert(alertname="TcpRetransmitRatioHigh", severity="warning", instance="h3:9750", comm="db"),
    ]
    request = urllib.request.Request(f"{base}/api/v2/alerts", data=json.dumps(alerts).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as r:
        check(r.status == 200, f"POST /api/v2/alerts: HTTP {r.status}")

    def key(labels):
        return (labels["alertname"], labels["cluster"], labels["instance"], labels["severity"])

    expected_state = {
        ("NetlensDown", "c1", "h1:9750", "critical"): "active",
        ("NetlensMapNearlyFull", "c1", "h1:9750", "warning"): "suppressed",
        ("TcpConnectFailures", "c1", "h1:9750", "warning"): "suppressed",
        ("TcpConnectionChurnHigh", "c1", "h1:9750", "info"): "suppressed",
        ("TcpConnectFailures", "c1", "h2:9750", "warning"): "active",
        ("NetlensSeriesFolded", "c2", "h1:9750", "warning"): "active",
        ("TcpRetransmitRatioHigh", "c1", "h3:9750", "critical"): "active",
        ("TcpRetransmitRatioHigh", "c1", "h3:9750", "warning"): "suppressed",
    }
    # Alertmanager's inhibitor takes in new alerts asynchronously: poll (bounded).
    end = time.monotonic() + 30
    while True:
        with urllib.request.urlopen(f"{base}/api/v2/alerts", timeout=10) as r:
            listed = json.loads(r.read())
        states = {key(a["labels"]): a["status"]["state"] for a in listed}
        if states == expected_state or time.monotonic() > end:
            break
        time.sleep(0.3)
    check(states == expected_state, f"alert states {states}, expected {expected_state}")
    for a in listed:
        if a["status"]["state"] == "suppressed":
            check(a["status"]["inhibitedBy"], f"{a['labels']}: suppressed but not inhibited")
    print("Alertmanager: NetlensDown inhibits its host's other alerts; critical inhibits warning")

    # Delivered: exactly the active alerts, each to its severity's receiver.
    expected_delivery = {k: "/" + RECEIVER_OF[k[3]] for k, state in expected_state.items()
                         if state == "active"}
    end = time.monotonic() + 60
    with cond:
        while True:
            delivered = {key(a["labels"]): path for path, payload in received
                         for a in payload["alerts"]}
            if set(delivered) >= set(expected_delivery) or time.monotonic() > end:
                break
            cond.wait(1)
    time.sleep(3)  # a suppressed alert would be sent by now (group_wait and group_interval 1s)
    with cond:
        delivered = {key(a["labels"]): path for path, payload in received for a in payload["alerts"]}
    check(delivered == expected_delivery, f"delivered {delivered}, expected {expected_delivery}")
    print(f"Alertmanager delivered the {len(delivered)} active alerts to their receivers, "
          f"none of the suppressed ones")


# ---------------------------------------------------------------- syntax and structure
GRAFANA_BUILTINS = {"__rate_interval", "__range", "__interval", "__interval_ms", "__range_s"}
DS = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)")
REQUIRED_VARIABLES = {
    "netlens-host-overview.json": {"DS_PROMETHEUS", "instance", "comm", "pid"},
    "netlens-process.json": {"DS_PROMETHEUS", "instance", "comm", "pid"},
    "netlens-self.json": {"DS_PROMETHEUS", "instance"},
    "netlens-service-map.json": {"DS_PROMETHEUS", "instance", "workload"},
}
# Dashboards of other things than a process's TCP: no latency row, no heatmaps.
WITHOUT_LATENCY = {"netlens-self.json", "netlens-service-map.json"}


# The latency histograms each dashboard but netlens-self draws as a heatmap. Connection
# lifetime is left out: it has samples only once connections close.
LATENCY_HEATMAPS = {"netlens_tcp_connect_duration_seconds", "netlens_tcp_accept_duration_seconds",
                    "netlens_tcp_rtt_seconds", "netlens_tcp_response_time_seconds"}


def all_panels(panels):
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))


def check_dashboard(name, d, uids):
    check(d.get("schemaVersion") == 38, f"{name}: schemaVersion {d.get('schemaVersion')}, expected 38")
    check(d.get("uid") and d.get("title"), f"{name}: uid and title required")
    check(d["uid"] not in uids, f"{name}: uid {d['uid']} used twice")
    uids.add(d["uid"])
    check(d.get("id") is None, f"{name}: id must be null for provisioning")
    variables = {v["name"]: v for v in d["templating"]["list"]}
    check(set(variables) == REQUIRED_VARIABLES[name],
          f"{name}: variables {sorted(variables)}, expected {sorted(REQUIRED_VARIABLES[name])}")
    ds = variables["DS_PROMETHEUS"]
    check(ds["type"] == "datasource" and ds["query"] == "prometheus", f"{name}: DS_PROMETHEUS variable")
    for v in variables.values():
        if v["type"] == "query":
            check(v["datasource"] == DS, f"{name}: variable {v['name']} datasource {v['datasource']}")
    ids = set()
    latency_rows = 0
    heatmaps = set()
    targets = 0
    for panel in all_panels(d["panels"]):
        title = panel.get("title", "?")
        check(panel["id"] not in ids, f"{name}: panel id {panel['id']} used twice")
        ids.add(panel["id"])
        grid = panel["gridPos"]
        check(grid["w"] > 0 and grid["h"] > 0 and grid["x"] + grid["w"] <= 24,
              f"{name}: panel '{title}' gridPos {grid}")
        if panel["type"] == "row":
            check(not panel.get("targets"), f"{name}: row '{title}' has queries")
            if title.startswith("Latency"):
                latency_rows += 1
            continue
        if panel["type"] == "heatmap":
            # netlens' buckets are already a histogram: one series per le, not computed by Grafana.
            check(panel.get("options", {}).get("calculate") is False,
                  f"{name}: heatmap '{title}' must not calculate buckets")
            for t in panel["targets"]:
                metric = re.search(r"\b(netlens_tcp_\w+_seconds)_bucket\b", t.get("expr", ""))
                check(metric and t.get("format") == "heatmap" and "sum by (le)" in t["expr"],
                      f"{name}: heatmap '{title}' {t['refId']}: sum by (le) of a netlens "
                      f"histogram's buckets, format heatmap")
                heatmaps.add(metric.group(1))
        check(panel.get("datasource") == DS, f"{name}: panel '{title}' datasource {panel.get('datasource')}")
        check(panel.get("targets"), f"{name}: panel '{title}' has no query")
        refs = [t["refId"] for t in panel["targets"]]
        check(len(set(refs)) == len(refs), f"{name}: panel '{title}' refIds {refs}")
        for t in panel["targets"]:
            targets += 1
            expr = t.get("expr", "")
            check(expr.strip(), f"{name}: panel '{title}' {t['refId']}: empty expr")
            check(t.get("datasource") == DS, f"{name}: panel '{title}' {t['refId']} datasource")
            for match in VARIABLE.finditer(expr):
                var = match.group(1) or match.group(2) or match.group(3)
                check(var in variables or var in GRAFANA_BUILTINS,
                      f"{name}: panel '{title}': undefined variable ${var}")
            for window in re.findall(r"\[([^\]]*)\]", expr):
                check(window in ("$__rate_interval", "$__range"),
                      f"{name}: panel '{title}': range [{window}]: use $__rate_interval or $__range")
        for link in panel.get("fieldConfig", {}).get("defaults", {}).get("links", []):
            check(re.match(r"^/d/[\w-]+/", link["url"]), f"{name}: panel '{title}': link {link['url']}")
    want_latency = 0 if name in WITHOUT_LATENCY else 1
    check(latency_rows == want_latency,
          f"{name}: expected {want_latency} latency row, found {latency_rows}")
    want_heatmaps = set() if name in WITHOUT_LATENCY else LATENCY_HEATMAPS
    check(heatmaps == want_heatmaps,
          f"{name}: heatmaps of {sorted(heatmaps)}, expected {sorted(want_heatmaps)}")
    return targets


def syntax(source):
    parsed = 0
    for top in ("deploy/prometheus", "deploy/thanos", "deploy/alertmanager", "deploy/kubernetes",
                "grafana", "test/fleet"):
        for root, _, files in os.walk(os.path.join(source, top)):
            for name in sorted(files):
                path = os.path.join(root, name)
                rel = os.path.relpath(path, source)
                try:
                    if name.endswith(".json"):
                        with open(path) as f:
                            json.load(f)
                    elif name.endswith((".yml", ".yaml")):
                        with open(path) as f:
                            documents = [d for d in yaml.safe_load_all(f) if d is not None]
                        check(documents, f"{rel}: empty")
                    else:
                        continue
                except (ValueError, yaml.YAMLError) as error:
                    raise CheckFailure(f"{rel}: {error}") from None
                parsed += 1
    print(f"{parsed} JSON and YAML files parse")

    dashboards_dir = os.path.join(source, "grafana/dashboards")
    names = sorted(n for n in os.listdir(dashboards_dir) if n.endswith(".json"))
    check(names == sorted(REQUIRED_VARIABLES), f"dashboards {names}")
    uids = set()
    for name in names:
        with open(os.path.join(dashboards_dir, name)) as f:
            targets = check_dashboard(name, json.load(f), uids)
        print(f"{name}: structure ok, {targets} queries")
    for name in names:
        with open(os.path.join(dashboards_dir, name)) as f:
            for uid in re.findall(r"/d/([\w-]+)/", f.read()):
                check(uid in uids, f"{name}: link to unknown dashboard uid {uid}")

    providers = load_yaml(os.path.join(source, "grafana/provisioning/dashboards/netlens.yaml"))
    check(providers["apiVersion"] == 1 and providers["providers"][0]["type"] == "file"
          and providers["providers"][0]["options"]["path"], "dashboard provisioning")
    datasources = load_yaml(os.path.join(source, "grafana/provisioning/datasources/prometheus.yaml"))
    check(datasources["apiVersion"] == 1, "datasource provisioning: apiVersion")
    ds = datasources["datasources"][0]
    check(ds["type"] == "prometheus" and ds.get("uid") and ds.get("url"), f"datasource {ds}")
    print("Grafana provisioning files ok")

    thanos = os.path.join(source, "deploy/thanos")
    ams = load_yaml(os.path.join(thanos, "thanos-rule-alertmanagers.yml"))["alertmanagers"]
    for am in ams:
        check(am["static_configs"] and all(re.match(r"^[\w.-]+:\d+$", t) for t in am["static_configs"]),
              f"thanos-rule-alertmanagers.yml: static_configs {am['static_configs']}")
        check(am.get("api_version") == "v2" and am.get("scheme") in ("http", "https"),
              "thanos-rule-alertmanagers.yml: api_version v2 and a scheme")
    queries = load_yaml(os.path.join(thanos, "thanos-rule-query.yml"))
    check(isinstance(queries, list) and all(q["static_configs"] for q in queries), "thanos-rule-query.yml")
    remote = load_yaml(os.path.join(thanos, "prometheus-remote-write.yml"))
    check([os.path.basename(r) for r in remote["rule_files"]] == ["netlens-recording.rules.yml"],
          "prometheus-remote-write.yml: recording rules only (Thanos Rule evaluates the alerts)")
    check(remote["remote_write"][0]["url"].endswith("/api/v1/receive"), "remote_write to Receive")
    with open(os.path.join(thanos, "README.md")) as f:
        readme = f.read()
    check("--rule-file=/etc/thanos/rules/netlens-alerts.rules.yml" in readme,
          "deploy/thanos/README.md: Thanos Rule loads netlens-alerts.rules.yml")
    print("Thanos files ok")


# ---------------------------------------------------------------- kubernetes
def kubernetes(netlens, source):
    require_tool(netlens, "netlens")
    directory = os.path.join(source, "deploy/kubernetes")
    objects = {}
    files = sorted(n for n in os.listdir(directory) if n.endswith((".yaml", ".yml")))
    for name in files:
        with open(os.path.join(directory, name)) as f:
            for doc in yaml.safe_load_all(f):
                if doc:
                    check(doc.get("apiVersion") and doc.get("kind"), f"{name}: apiVersion and kind")
                    objects.setdefault(doc["kind"], []).append((name, doc))
    kustomization = objects.pop("Kustomization")[0][1]
    check(sorted(kustomization["resources"]) == sorted(n for n in files if n != "kustomization.yaml"),
          f"kustomization resources {kustomization['resources']} vs files {files}")
    for kind, docs in objects.items():
        for name, doc in docs:
            check(doc["metadata"].get("name"), f"{name}: {kind} without a name")
            if kind != "Namespace":
                check(doc["metadata"].get("namespace") == "netlens", f"{name}: {kind} namespace")

    (_, sa), = objects["ServiceAccount"]
    (_, cm), = objects["ConfigMap"]
    (_, ds), = objects["DaemonSet"]
    check(sa.get("automountServiceAccountToken") is False, "ServiceAccount: token must not be mounted")
    spec = ds["spec"]["template"]["spec"]
    labels = ds["spec"]["template"]["metadata"]["labels"]
    check(all(labels.get(k) == v for k, v in ds["spec"]["selector"]["matchLabels"].items()),
          "DaemonSet selector does not match the pod labels")
    check(spec["serviceAccountName"] == sa["metadata"]["name"], "DaemonSet service account")
    check(spec.get("hostPID") is True and spec.get("hostNetwork") is True, "hostPID and hostNetwork")
    (container,) = spec["containers"]
    sc = container["securityContext"]
    check(sc.get("privileged") is False, "container must not be privileged")
    check(sc["capabilities"]["drop"] == ["ALL"], "capabilities: drop ALL")
    # The e2e test starts netlens with exactly these (fleet_e2e.py).
    added = sorted(sc["capabilities"]["add"])
    check(added == ["BPF", "PERFMON", "SYS_RESOURCE"], f"capabilities added: {added}")
    check("SYS_PTRACE" not in added and "DAC_READ_SEARCH" not in added, "no /proc privileges")
    # The API server rejects allowPrivilegeEscalation=false together with SYS_ADMIN.
    check(not ("SYS_ADMIN" in added and sc.get("allowPrivilegeEscalation") is False),
          "allowPrivilegeEscalation: false is invalid with SYS_ADMIN")
    check(sc.get("readOnlyRootFilesystem") is True, "read-only root filesystem")
    check(sc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation: false")

    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    for mount in mounts.values():
        check(mount["name"] in volumes, f"mount of unknown volume {mount['name']}")
        check(mount.get("readOnly") is True, f"{mount['mountPath']} must be mounted read-only")
    for path in ("/sys/kernel/btf", "/sys/fs/cgroup", "/sys/kernel/tracing"):
        check(path in mounts and volumes[mounts[path]["name"]]["hostPath"]["path"] == path,
              f"{path}: host path mounted at the same place")
    check(not any(v.get("hostPath", {}).get("path") == "/proc" for v in volumes.values()),
          "no host /proc mount: hostPID gives the host's /proc")

    argv = container.get("command", []) + container.get("args", [])
    config_path = argv[argv.index("--config") + 1]
    config_dir, config_key = os.path.split(config_path)
    config_volume = volumes[mounts[config_dir]["name"]]
    check(config_volume["configMap"]["name"] == cm["metadata"]["name"], "config volume's ConfigMap")
    check(config_key in cm["data"], f"ConfigMap has no key {config_key}")
    netlens_config = yaml.safe_load(cm["data"][config_key])
    listen_port = int(netlens_config["listen"].rsplit(":", 1)[1])
    check(netlens_config["listen"].startswith("0.0.0.0:"), "netlens must listen on the node's addresses")

    (port,) = container["ports"]
    check(port["containerPort"] == listen_port and port["hostPort"] == listen_port,
          f"container/host port {port} vs netlens listen port {listen_port}")
    annotations = ds["spec"]["template"]["metadata"]["annotations"]
    check(annotations["prometheus.io/scrape"] == "true"
          and annotations["prometheus.io/port"] == str(listen_port)
          and annotations["prometheus.io/path"] == "/metrics", f"scrape annotations {annotations}")
    for probe in ("livenessProbe", "readinessProbe"):
        get = container[probe]["httpGet"]
        check(get["path"] == "/" and get["port"] == port["name"], f"{probe}: {get}")
    print("manifests: consistent (ports, annotations, probes, mounts, capabilities, ConfigMap)")

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, config_key)
        with open(path, "w") as f:
            f.write(cm["data"][config_key])
        run_tool(["timeout", "30", netlens, "--check-config", path])


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    command, rest = argv[1], argv[2:]
    commands = {
        "promtool-check-config": lambda: promtool_check_config(*rest),
        "promtool-check-k8s": lambda: promtool_check_k8s(*rest),
        "promtool-check-rules": lambda: promtool_rules("check", *rest),
        "promtool-test-rules": lambda: promtool_rules("test", *rest),
        "rule-policy": lambda: rule_policy(*rest),
        "alertmanager-config": lambda: alertmanager_config(*rest),
        "alertmanager-inhibit": lambda: alertmanager_inhibit(*rest),
        "syntax": lambda: syntax(*rest),
        "kubernetes": lambda: kubernetes(*rest),
    }
    if command not in commands:
        print(__doc__)
        return 2
    try:
        commands[command]()
    except (CheckFailure, KeyError, subprocess.TimeoutExpired, OSError) as error:
        print(f"FAILED: {type(error).__name__}: {error}", flush=True)
        return 1
    print("PASSED", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
