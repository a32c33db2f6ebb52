// The service map against the real kernel, nginx and network namespaces: curl -> nginx -> an
// HTTP backend on loopback, a plain TCP client -> a server in a network namespace of its own
// (over a veth pair), and a refused connect. Exactly these edges appear, each end named (by
// `services` rules, by comm, or as an address), with nginx's access log's own sums for the
// bytes and the requests' connections, nl-traffic's for the TCP pair; nothing else.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "exposition.h"
#include "netlens_process.h"
#include "netns.h"
#include "nginx_child.h"
#include "ports.h"
#include "subprocess.h"
#include "temp_dir.h"
#include "traffic_run.h"

namespace netlens::test {
namespace {

using std::chrono::milliseconds;

// The counters of an edge, as netlens_service_map_* show them (requests: protocol http).
struct EdgeCounts {
  double opened = 0, failures = 0, client_bytes = 0, server_bytes = 0;
  double requests = 0, errors = 0;
  bool operator==(const EdgeCounts&) const = default;
};

std::ostream& operator<<(std::ostream& out, const EdgeCounts& c) {
  return out << "{opened " << c.opened << ", failures " << c.failures << ", client->server "
             << c.client_bytes << ", server->client " << c.server_bytes << ", requests "
             << c.requests << ", errors " << c.errors << "}";
}

std::string EdgeOf(const Labels& labels) {
  auto at = [&](const char* name) {
    auto it = labels.find(name);
    return it == labels.end() ? std::string("?") : it->second;
  };
  return at("client") + "|" + at("client_kind") + " -> " + at("server") + "|" + at("server_kind") +
         ":" + at("server_port") + " (" + at("reporter") + ")";
}

// Every edge the scrape shows with a count above zero.
std::map<std::string, EdgeCounts> EdgesOf(const Scrape& scrape) {
  std::map<std::string, EdgeCounts> edges;
  for (const Sample& sample : scrape.samples) {
    if (sample.value == 0) continue;
    EdgeCounts* edge = nullptr;
    auto slot = [&]() -> EdgeCounts& { return edges[EdgeOf(sample.labels)]; };
    if (sample.name == "netlens_service_map_connections_opened_total") {
      slot().opened = sample.value;
    } else if (sample.name == "netlens_service_map_connect_failures_total") {
      slot().failures = sample.value;
    } else if (sample.name == "netlens_service_map_requests_total" ||
               sample.name == "netlens_service_map_request_errors_total") {
      Labels labels = sample.labels;
      REQUIRE(labels["protocol"] == "http");
      labels.erase("protocol");
      edge = &edges[EdgeOf(labels)];
      (sample.name == "netlens_service_map_requests_total" ? edge->requests : edge->errors) =
          sample.value;
    } else if (sample.name == "netlens_service_map_bytes_total") {
      Labels labels = sample.labels;
      const std::string direction = labels["direction"];
      labels.erase("direction");
      edge = &edges[EdgeOf(labels)];
      (direction == "client_to_server" ? edge->client_bytes : edge->server_bytes) = sample.value;
    }
  }
  return edges;
}

struct AccessLog {
  uint64_t lines = 0, request_length = 0, bytes_sent = 0, upstream_sent = 0, upstream_received = 0;
  uint64_t errors = 0;  // 5xx
};

AccessLog ReadAccessLog(const std::string& path) {
  AccessLog log;
  std::ifstream in(path);
  uint64_t length = 0, sent = 0, upstream_sent = 0, upstream_received = 0, status = 0;
  while (in >> length >> sent >> upstream_sent >> upstream_received >> status) {
    ++log.lines;
    if (status >= 500) ++log.errors;
    log.request_length += length;
    log.bytes_sent += sent;
    log.upstream_sent += upstream_sent;
    log.upstream_received += upstream_received;
  }
  return log;
}

int Curl(std::vector<std::string> args) {
  std::vector<std::string> argv = {"/usr/bin/curl", "-s", "-o", "/dev/null", "--http1.1"};
  argv.insert(argv.end(), args.begin(), args.end());
  return Child(argv, SpawnOptions{}).Communicate(milliseconds(30000)).status.code;
}

TEST_CASE("service map: the edges of a chain on this host and of a network namespace, exactly",
          "[service_map]") {
  // A network namespace joined to this one by a veth pair: 10.231.N.1 here, .2 there.
  NetworkNamespace ns("smap");
  const std::string host_if = "nlsm" + std::to_string(getpid() % 100000);
  const std::string subnet = "10.231." + std::to_string(getpid() % 250) + ".";
  RunOrThrow({"ip", "link", "add", host_if, "type", "veth", "peer", "name", "nlsm-ns", "netns",
              ns.name()});
  RunOrThrow({"ip", "addr", "add", subnet + "1/30", "dev", host_if});
  RunOrThrow({"ip", "link", "set", host_if, "up"});
  ns.Ip({"addr", "add", subnet + "2/30", "dev", "nlsm-ns"});
  ns.Ip({"link", "set", "nlsm-ns", "up"});

  TempDir dir;
  const uint16_t port = FreeLoopbackPort();
  const uint16_t backend_port = FreeLoopbackPort();
  const uint16_t refused_port = FreeLoopbackPort();  // nothing listens there
  std::ostringstream conf;
  conf << "daemon off;\nmaster_process on;\nworker_processes 1;\nuser root;\n"
       << "pid " << dir.PathOf("nginx.pid") << ";\nerror_log " << dir.PathOf("error.log")
       << ";\nevents { worker_connections 256; }\nhttp {\n"
       << "  log_format edges '$request_length $bytes_sent $upstream_bytes_sent "
          "$upstream_bytes_received $status';\n"
       << "  access_log " << dir.PathOf("access.log")
       << " edges;\n"
       // No keepalive pool: one backend connection per request.
       << "  server {\n    listen 127.0.0.1:" << port << ";\n"
       << "    location /b/ { proxy_pass http://127.0.0.1:" << backend_port << "; }\n  }\n}\n";
  const std::string conf_path = dir.Write("nginx.conf", conf.str());
  HttpPeersBackend backend(backend_port);
  const NginxChild nginx(dir, conf_path);
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  // Ready before netlens starts: these probes are no edge, and the log starts after them.
  for (int i = 0; i < 100 && Curl({base + "/"}) != 0; ++i)
    std::this_thread::sleep_for(milliseconds(100));
  dir.Write("access.log", "");

  const std::string tcp_client = UniqueComm(), tcp_server = UniqueComm();
  NetlensProcess netlens("process", {},
                         "targets:\n  include:\n    - comm: curl\n    - comm: nginx\n"
                         "    - comm: http_peers.py\n    - comm: " +
                             tcp_client + "\n    - comm: " + tcp_server +
                             "\n"
                             "services:\n  - name: proxy\n    comm: nginx\n"
                             "  - name: backend\n    comm: http_peers.py\n"
                             "service_map:\n  enabled: true\n"
                             // The backend's traffic is not parsed: nginx's client side counts
                             // the proxy -> backend requests; nginx's server side curl's.
                             "http_requests:\n  processes:\n    include:\n"
                             "      - comm: curl\n      - comm: nginx\n");

  // curl: 12 requests over one connection (2 failing), 4 with one connection each, one
  // refused connect.
  std::vector<std::string> keep_alive, closing = {"-H", "Connection: close"};
  for (int i = 0; i < 10; ++i) keep_alive.push_back(base + "/b/ok?k=" + std::to_string(i));
  for (int i = 0; i < 2; ++i) keep_alive.push_back(base + "/b/fail?k=" + std::to_string(i));
  for (int i = 0; i < 4; ++i) closing.push_back(base + "/b/ok?c=" + std::to_string(i));
  REQUIRE(Curl(keep_alive) == 0);
  REQUIRE(Curl(closing) == 0);
  REQUIRE(Curl({"http://127.0.0.1:" + std::to_string(refused_port) + "/"}) == 7);
  // Plain TCP to a server in the namespace: 5 connections, 2 rounds of 200 and 300 bytes.
  const TrafficOptions tcp{.comm = tcp_client,
                           .server_comm = tcp_server,
                           .connections = 5,
                           .rounds = 2,
                           .request = 200,
                           .response = 300,
                           .address = subnet + "2",
                           .server_netns = ns.name()};
  const TrafficReport report = RunTraffic(tcp);

  const AccessLog log = ReadAccessLog(dir.PathOf("access.log"));
  REQUIRE(log.lines == 16);
  REQUIRE(log.errors == 2);
  const std::string p = std::to_string(port), b = std::to_string(backend_port);
  const std::map<std::string, EdgeCounts> expected = {
      {"curl|comm -> proxy|service:" + p + " (server)",
       {5, 0, double(log.request_length), double(log.bytes_sent), 16, 2}},
      {"proxy|service -> backend|service:" + b + " (server)",
       {16, 0, double(log.upstream_sent), double(log.upstream_received), 16, 2}},
      {tcp_client + "|comm -> " + tcp_server + "|comm:" + std::to_string(report.port) + " (server)",
       {5, 0, 5 * 2 * 200, 5 * 2 * 300}},
      {"curl|comm -> 127.0.0.1|address:" + std::to_string(refused_port) + " (client)",
       {0, 1, 0, 0}},
  };
  // Until every end has closed and been paired: a few refreshes.
  Scrape scrape = netlens.ScrapeMetrics();
  for (int i = 0; i < 100 && EdgesOf(scrape) != expected; ++i) {
    std::this_thread::sleep_for(milliseconds(200));
    scrape = netlens.ScrapeMetrics();
  }
  const auto edges = EdgesOf(scrape);
  for (const auto& [edge, counts] : edges) UNSCOPED_INFO("netlens: " << edge << " " << counts);
  for (const auto& [edge, counts] : expected) UNSCOPED_INFO("expected: " << edge << " " << counts);
  INFO(netlens.Report());
  CHECK(edges == expected);
  CHECK(Sum(scrape.samples, "netlens_service_map_ends_total", {}) == 0);
  CHECK(Sum(scrape.samples, "netlens_service_map_requests_unattributed_total", {}) == 0);
  // The same exchanges as the HTTP families': the duration sums are equal.
  CHECK(
      Sum(scrape.samples, "netlens_service_map_request_duration_seconds_sum",
          {{"server", "proxy"}}) ==
      Approx(Sum(scrape.samples, "http_server_request_duration_seconds_sum", {{"comm", "nginx"}})));
  CHECK(Sum(scrape.samples, "netlens_service_map_request_duration_seconds_sum",
            {{"server", "backend"}}) ==
        Approx(Sum(scrape.samples, "http_client_request_duration_seconds_sum",
                   {{"comm", "nginx"}, {"server_port", b}})));
}

}  // namespace
}  // namespace netlens::test
