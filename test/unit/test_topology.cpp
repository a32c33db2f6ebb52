// The service map in user space: the `service_map` config, the pairing of connection ends by
// five-tuple, and the edges a known sequence of snapshots makes, every number known.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <map>
#include <string>

#include "config/config.h"
#include "config_error.h"
#include "kernel_fixtures.h"
#include "topology/end_matcher.h"
#include "topology/topology_source.h"

namespace netlens {
namespace {

using namespace std::chrono_literals;
using topology::EndMatcher;
using topology::TopologySource;

std::string ErrorOf(const std::string& text) {
  return ConfigErrorOf([](const std::string& t) { ParseConfig(t, "t.yaml"); }, text);
}

// One end: local -> remote, as the kernel's tcp_conns entry has it.
nl_conn End(uint32_t pid, const char* comm, uint8_t direction, const char* local_addr,
            uint16_t local_port, const char* remote_addr, uint16_t remote_port, uint64_t sent,
            uint64_t received, uint64_t open_ns) {
  nl_conn c = Conn(pid, comm, direction, local_port, remote_port, sent, received);
  SetAddr(c.tuple.local_addr, local_addr);
  SetAddr(c.tuple.remote_addr, remote_addr);
  c.open_ns = open_ns;
  return c;
}

// Both ends of 127.0.0.1:40000 -> 127.0.0.1:8080, pids 100 and 200: the client sent `request`
// bytes and received `response`; the server's entry came 100 ns after the client's.
struct LoopbackPair {
  nl_conn client, server;
};
LoopbackPair Loopback(const char* client_comm, const char* server_comm, uint64_t request,
                      uint64_t response, uint64_t open_ns) {
  return {End(100, client_comm, NL_DIR_ACTIVE, "127.0.0.1", 40000, "127.0.0.1", 8080, request,
              response, open_ns),
          End(200, server_comm, NL_DIR_PASSIVE, "127.0.0.1", 8080, "127.0.0.1", 40000, response,
              request, open_ns + 100)};
}

void AddLive(KernelSnapshot& snapshot, uint64_t sock, const nl_conn& conn) {
  snapshot.conns.emplace_back(sock, conn);
}
void AddClosed(KernelSnapshot& snapshot, uint64_t sock, const nl_conn& conn) {
  snapshot.closed.push_back({nl_closed_key{.sock = sock, .open_ns = conn.open_ns}, conn});
}

// Edge labels joined with '|' -> the ledger's five counters.
std::map<std::string, topology::EdgeLedger::Counters> Edges(const TopologySource& source) {
  std::map<std::string, topology::EdgeLedger::Counters> out;
  for (const auto& [key, series] : source.edges().series()) {
    std::string labels;
    for (const std::string& value : series.labels) labels += (labels.empty() ? "" : "|") + value;
    out[labels] = series.value;
  }
  return out;
}

TEST_CASE("service_map: off by default; remote names by CIDR", "[config][topology]") {
  CHECK_FALSE(DefaultConfig().service_map.enabled);
  const Config config = ParseConfig(
      "service_map:\n  enabled: true\n  remote_names:\n    - cidr: 10.0.0.0/8\n      name: corp\n"
      "    - {cidr: 'fd00::/8', name: ula}\n",
      "t.yaml");
  CHECK(config.service_map.enabled);
  REQUIRE(config.service_map.remote_names.size() == 2);
  uint8_t address[16];
  SetAddr(address, "10.1.2.3");
  const std::string* name = topology::RemoteNameOf(config.service_map.remote_names, address);
  REQUIRE(name != nullptr);
  CHECK(*name == "corp");
  SetAddr(address, "11.1.2.3");
  CHECK(topology::RemoteNameOf(config.service_map.remote_names, address) == nullptr);
}

TEST_CASE("service_map: bad input is named with its place", "[config][topology]") {
  CHECK(ErrorOf("service_map:\n  enabled: yes please\n") ==
        "t.yaml:2:12: 'service_map.enabled' must be true or false, got 'yes please'");
  CHECK(ErrorOf("service_map:\n  remote_names:\n    - cidr: 10.0.0.1/8\n      name: x\n") ==
        "t.yaml:3:13: 'service_map.remote_names[0].cidr' has bits set beyond its /8 prefix, got "
        "'10.0.0.1/8'");
  CHECK(ErrorOf("service_map:\n  remote_names:\n    - cidr: 10.0.0.0/8\n") ==
        "t.yaml:3:7: 'service_map.remote_names[0]' needs both cidr and name");
  CHECK(ErrorOf("service_map:\n  remote_name: []\n")
            .starts_with("t.yaml:2:3: unknown key 'remote_name' in 'service_map' (did you mean "
                         "'remote_names'?)"));
}

TEST_CASE("end matcher: ends paired by five-tuple, within a snapshot and across two",
          "[topology]") {
  const auto t = SteadyClock::time_point{} + 1000s;
  const auto [client, server] = Loopback("client", "server", 300, 500, 1000);
  const nl_conn remote =
      End(300, "curl", NL_DIR_ACTIVE, "10.0.0.1", 41000, "192.0.2.7", 443, 100, 2000, 1200);
  EndMatcher matcher;
  KernelSnapshot first;
  AddLive(first, 1, client);
  AddLive(first, 3, remote);
  matcher.Update(first, t);
  CHECK(matcher.TakeUnits().empty());  // both pending: neither old enough to be alone
  KernelSnapshot second;
  AddLive(second, 1, client);
  AddLive(second, 2, server);  // its entry came microseconds after the client's
  AddLive(second, 3, remote);
  matcher.Update(second, t + 100ms);
  auto units = matcher.TakeUnits();
  REQUIRE(units.size() == 1);  // the pair; the remote end is one snapshot but not 1 s old
  CHECK(units[0].paired());
  CHECK(units[0].client->pid == 100);
  CHECK(units[0].server->pid == 200);
  matcher.Update(second, t + 1100ms);
  units = matcher.TakeUnits();
  REQUIRE(units.size() == 2);
  const auto& single = units[0].paired() ? units[1] : units[0];
  CHECK(single.client->pid == 300);
  CHECK(single.server == nullptr);

  // The peer of an end already counted alone, seen while that end is open: late, not counted.
  const nl_conn remote_peer =
      End(400, "peer", NL_DIR_PASSIVE, "192.0.2.7", 443, "10.0.0.1", 41000, 2000, 100, 1300);
  KernelSnapshot third = second;
  AddLive(third, 4, remote_peer);
  matcher.Update(third, t + 2s);
  CHECK(matcher.TakeUnits().size() == 2);
  CHECK(matcher.late_pairs() == 1);

  // An open end missing from one snapshot is not gone yet; from two, it vanished. Closed ends
  // stay two snapshots after their last showing for late peers, then go; a pair goes when both
  // ends have.
  KernelSnapshot closing;
  AddClosed(closing, 1, client);
  AddLive(closing, 2, server);
  matcher.Update(closing, t + 3s);
  CHECK(matcher.ends() == 4);
  CHECK(matcher.vanished() == 0);
  CHECK(matcher.TakeUnits().size() == 2);  // the pair (its client closed), the single end (open)
  KernelSnapshot empty;
  matcher.Update(empty, t + 20s);  // the remote end and its late peer: vanished, and gone
  CHECK(matcher.vanished() == 2);
  CHECK(matcher.ends() == 2);
  matcher.Update(empty, t + 21s);  // the server end vanished too: the pair goes
  CHECK(matcher.vanished() == 3);
  CHECK(matcher.ends() == 0);
  CHECK(matcher.TakeUnits().empty());
}

TEST_CASE("end matcher: ends drained between snapshots pair at the next", "[topology]") {
  const auto t = SteadyClock::time_point{} + 1000s;
  EndMatcher matcher;
  const auto [client, server] = Loopback("cli", "srv", 10, 20, 5);
  // An open end, shown by a full snapshot.
  const nl_conn open =
      End(300, "keep", NL_DIR_ACTIVE, "10.0.0.1", 41000, "192.0.2.7", 443, 1, 1, 7);
  KernelSnapshot full;
  AddLive(full, 3, open);
  matcher.Update(full, t);
  matcher.TakeUnits();
  // Drains: the client end, then its server; partial passes do not end the open one.
  KernelSnapshot drain;
  AddClosed(drain, 1, client);
  matcher.Update(drain, t + 200ms, /*full=*/false);
  CHECK(matcher.TakeUnits(false).empty());
  drain = {};
  AddClosed(drain, 2, server);
  matcher.Update(drain, t + 400ms, /*full=*/false);
  const auto units = matcher.TakeUnits(false);
  REQUIRE(units.size() == 1);
  CHECK(units[0].server->traffic.bytes_received == 10);
  matcher.Update(KernelSnapshot{}, t + 600ms, /*full=*/false);
  matcher.Update(KernelSnapshot{}, t + 1200ms, /*full=*/false);
  CHECK(matcher.vanished() == 0);
  CHECK(matcher.ends() == 1);  // the pair went two passes after it was shown; the open end stays
  matcher.Update(full, t + 1400ms);
  CHECK(matcher.TakeUnits().size() == 1);  // the open end: old enough now, alone
}

TEST_CASE("end matcher: a direction unknown takes its peer's opposite, or is skipped",
          "[topology]") {
  const auto t = SteadyClock::time_point{} + 1000s;
  EndMatcher matcher;
  KernelSnapshot snapshot;
  AddLive(snapshot, 1,
          End(100, "old", NL_DIR_UNKNOWN, "127.0.0.1", 40000, "127.0.0.1", 8080, 1, 2, 10));
  AddLive(snapshot, 2,
          End(200, "srv", NL_DIR_PASSIVE, "127.0.0.1", 8080, "127.0.0.1", 40000, 2, 1, 10));
  AddLive(snapshot, 3,
          End(300, "lone", NL_DIR_UNKNOWN, "127.0.0.1", 40001, "10.9.9.9", 80, 1, 1, 10));
  matcher.Update(snapshot, t);
  matcher.Update(snapshot, t + 2s);
  const auto units = matcher.TakeUnits();
  REQUIRE(units.size() == 1);
  CHECK(units[0].client->pid == 100);
  CHECK(units[0].client->direction == NL_DIR_ACTIVE);
  CHECK(matcher.skipped() == 1);
}

TEST_CASE("service map: edges named by rules, counted once, from known snapshots", "[topology]") {
  const auto t = SteadyClock::time_point{} + 1000s;
  topology::TopologySettings settings;
  settings.labels.services = {ServiceRule{.name = "web", .comm = "server"}};
  settings.service_map = ParseConfig(
                             "service_map:\n  enabled: true\n  remote_names:\n"
                             "    - {cidr: 198.51.100.0/24, name: partner}\n",
                             "t.yaml")
                             .service_map;
  settings.proc_root = "/nonexistent";
  TopologySource source(settings);

  const auto [client, server] = Loopback("client", "server", 300, 500, 1000);
  nl_conn to_remote =
      End(300, "curl", NL_DIR_ACTIVE, "10.0.0.1", 41000, "192.0.2.7", 443, 100, 2000, 1200);
  to_remote.traffic.retransmits = 3;
  const nl_conn from_remote =
      End(200, "server", NL_DIR_PASSIVE, "10.0.0.1", 8080, "198.51.100.9", 50000, 40, 20, 1300);
  KernelSnapshot live;
  AddLive(live, 1, client);
  AddLive(live, 2, server);
  AddLive(live, 3, to_remote);
  AddLive(live, 4, from_remote);
  source.Observe(live, t);

  // Closed: the pair, with their last bytes; two failed connects in the client's totals.
  KernelSnapshot closed;
  nl_conn client_end = client, server_end = server;
  client_end.traffic.bytes_sent = server_end.traffic.bytes_received = 350;
  AddClosed(closed, 1, client_end);
  AddClosed(closed, 2, server_end);
  AddLive(closed, 3, to_remote);
  AddLive(closed, 4, from_remote);
  nl_conn refused = End(300, "curl", NL_DIR_ACTIVE, "10.0.0.1", 41001, "192.0.2.8", 9, 0, 0, 1);
  auto failures = Folded(refused);
  failures.second = {};
  failures.second.connect_failures[NL_FAIL_REFUSED] = 2;
  closed.totals.push_back(failures);
  source.Observe(closed, t + 2s);

  const auto edges = Edges(source);
  using Counters = topology::EdgeLedger::Counters;
  CHECK(edges == std::map<std::string, Counters>{
                     {"client|comm|web|service|8080|server", {1, 0, 350, 500, 0}},
                     {"curl|comm|192.0.2.7|address|443|client", {1, 0, 100, 2000, 3}},
                     {"curl|comm|192.0.2.8|address|9|client", {0, 2, 0, 0, 0}},
                     {"partner|network|web|service|8080|server", {1, 0, 20, 40, 0}},
                 });
}

// Requests per edge family -> labels joined with '|' -> value (requests, errors, duration count).
std::map<std::string, double> RequestSamples(TopologySource& source, const std::string& family) {
  std::vector<prometheus::MetricFamily> families;
  std::vector<SeriesBudgetUse> budgets;
  source.Collect({families, budgets});
  std::map<std::string, double> out;
  for (const prometheus::MetricFamily& f : families) {
    if (f.name != family) continue;
    for (const prometheus::ClientMetric& metric : f.metric) {
      std::string labels;
      for (const auto& label : metric.label) labels += (labels.empty() ? "" : "|") + label.value;
      out[labels] = f.type == prometheus::MetricType::Histogram
                        ? static_cast<double>(metric.histogram.sample_count)
                    : f.type == prometheus::MetricType::Counter ? metric.counter.value
                                                                : metric.gauge.value;
    }
  }
  return out;
}

http::ExchangeSummary Request(http::Role role, uint32_t pid, const char* local, uint16_t lport,
                              const char* remote, uint16_t rport, bool error) {
  http::ExchangeSummary e;
  e.role = role;
  e.pid = pid;
  SetAddr(e.local.address.data(), local);
  SetAddr(e.remote.address.data(), remote);
  e.local.port = lport;
  e.remote.port = rport;
  e.error = error;
  e.duration_ns = 5'000'000;
  return e;
}

TEST_CASE("service map: requests per edge, counted once, by the parsed server end", "[topology]") {
  const auto t = SteadyClock::time_point{} + 1000s;
  topology::TopologySettings settings;
  settings.labels.services = {ServiceRule{.name = "web", .comm = "server"}};
  settings.proc_root = "/nonexistent";
  TopologySource source(settings);
  source.SetParsedProcesses([](uint32_t pid) { return pid == 200; });  // the server's only

  const auto [client, server] = Loopback("client", "server", 300, 500, 1000);
  const nl_conn to_remote =
      End(300, "curl", NL_DIR_ACTIVE, "10.0.0.1", 41000, "192.0.2.7", 443, 100, 2000, 1200);
  KernelSnapshot live;
  AddLive(live, 1, client);
  AddLive(live, 2, server);
  AddLive(live, 3, to_remote);
  // Exchanges before any snapshot showed their connection wait for one.
  using http::Role;
  source.ObserveRequest(Request(Role::kServer, 200, "127.0.0.1", 8080, "127.0.0.1", 40000, true));
  source.ObserveRequest(Request(Role::kServer, 200, "127.0.0.1", 8080, "127.0.0.1", 40000, false));
  // The client's view of the same two: the server end counts them, not again.
  source.ObserveRequest(Request(Role::kClient, 100, "127.0.0.1", 40000, "127.0.0.1", 8080, true));
  source.ObserveRequest(Request(Role::kClient, 100, "127.0.0.1", 40000, "127.0.0.1", 8080, false));
  // A server not on this host: the client end counts.
  source.ObserveRequest(Request(Role::kClient, 300, "10.0.0.1", 41000, "192.0.2.7", 443, false));
  // A connection no snapshot shows.
  source.ObserveRequest(Request(Role::kClient, 300, "10.0.0.1", 41999, "192.0.2.7", 443, false));
  source.Observe(live, t);
  // The pair is decided in the first pass; the end alone after its grace (2 passes, 1 s).
  CHECK(RequestSamples(source, "netlens_service_map_requests_total") ==
        std::map<std::string, double>{{"client|comm|web|service|8080|server|http", 2}});
  source.Observe(live, t + 2s);

  const auto requests = RequestSamples(source, "netlens_service_map_requests_total");
  // Held for attribution: the pair's connection and the one to the remote server.
  CHECK(RequestSamples(source, "netlens_service_map_request_connections").at("") == 2);
  CHECK(requests == std::map<std::string, double>{
                        {"client|comm|web|service|8080|server|http", 2},
                        {"curl|comm|192.0.2.7|address|443|client|http", 1},
                    });
  CHECK(RequestSamples(source, "netlens_service_map_request_errors_total") ==
        std::map<std::string, double>{
            {"client|comm|web|service|8080|server|http", 1},
            {"curl|comm|192.0.2.7|address|443|client|http", 0},
        });
  CHECK(RequestSamples(source, "netlens_service_map_request_duration_seconds")
            .at("client|comm|web|service|8080|server|http") == 2);
  // The unknown one is given up 3 full passes after the one it came in, counted.
  const auto unattributed = [&] {
    return RequestSamples(source, "netlens_service_map_requests_unattributed_total")
        .at("no_connection");
  };
  source.Observe(live, t + 10s);
  CHECK(unattributed() == 0);
  source.Observe(live, t + 20s);
  CHECK(unattributed() == 1);

  // Where the server's traffic is not parsed, the client end counts.
  source.SetParsedProcesses([](uint32_t) { return false; });
  source.ObserveRequest(Request(Role::kServer, 200, "127.0.0.1", 8080, "127.0.0.1", 40000, false));
  source.ObserveRequest(Request(Role::kClient, 100, "127.0.0.1", 40000, "127.0.0.1", 8080, false));
  source.Observe(live, t + 40s);
  CHECK(RequestSamples(source, "netlens_service_map_requests_total")
            .at("client|comm|web|service|8080|server|http") == 3);
}

}  // namespace
}  // namespace netlens
