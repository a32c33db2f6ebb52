// labels.pid: false — short-lived processes of one comm share one series, exact and monotonic
// while netlens forgets them (process_ttl), against the real kernel and daemon.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <thread>

#include "expect.h"
#include "metric_names.h"
#include "netlens_process.h"
#include "ports.h"

namespace netlens::test {
namespace {

using std::chrono::milliseconds;

TrafficCounts Times(const TrafficCounts& counts, uint64_t n) {
  return {counts.sent_bytes * n, counts.received_bytes * n, counts.send_calls * n,
          counts.receive_calls * n};
}

TrafficCounts Plus(const TrafficCounts& a, const TrafficCounts& b) {
  return {a.sent_bytes + b.sent_bytes, a.received_bytes + b.received_bytes,
          a.send_calls + b.send_calls, a.receive_calls + b.receive_calls};
}

// What netlens should show for one side (comm, direction) of every run so far.
struct SideTotals {
  Labels labels;          // comm and direction
  Labels traffic_labels;  // the same, but for the direction at process level
  TrafficCounts counts;
  uint64_t connections = 0;
};

// One series per side, no pid label on it, holding exactly the sums; the connection-duration
// histogram counts every connection, the connect-duration one every connect of the client.
void RequireTotals(const Scrape& scrape, const SideTotals& client, const SideTotals& server) {
  for (const SideTotals* side : {&client, &server}) {
    INFO("comm " << side->labels.at("comm") << ", direction " << side->labels.at("direction"));
    RequireTraffic(scrape, side->traffic_labels, side->counts);
    RequireConnections(scrape, side->labels, side->connections, side->connections);
    RequireValue(scrape, metric::kConnectionsOpen, side->labels, 0);
    RequireValue(scrape, std::string(metric::kTcpConnectionDurationSeconds) + "_count",
                 side->labels, static_cast<double>(side->connections));
    const Labels comm = {{"comm", side->labels.at("comm")}};
    for (const Sample& sample : scrape.samples) {
      if (!HasLabels(sample, comm)) continue;
      INFO(Format(sample));
      REQUIRE(sample.labels.count("pid") == 0);
    }
  }
  RequireValue(scrape, std::string(metric::kTcpConnectDurationSeconds) + "_count", client.labels,
               static_cast<double>(client.connections));
}

const Labels kTotalsMap = {{"map", "tcp_totals"}};

// Scrapes every 250 ms, passing each scrape to check, until the kernel's totals map is back to
// `baseline` entries (what the daemon keeps there itself) or 30 s have passed; returns the
// scrapes it took, nothing if the map never got there.
std::optional<int> WaitForTotalsEntries(const NetlensProcess& netlens, double baseline,
                                        const std::function<void(const Scrape&)>& check) {
  for (int scrapes = 1; scrapes <= 120; ++scrapes) {
    const Scrape scrape = netlens.ScrapeMetrics();
    check(scrape);
    if (ValueOfOne(scrape.samples, metric::kMapEntries, kTotalsMap) == baseline) return scrapes;
    std::this_thread::sleep_for(milliseconds(250));
  }
  return std::nullopt;
}

TEST_CASE("labels: with pid off, short-lived processes of one comm share one exact series",
          "[labels][pid_off]") {
  const std::string aggregation = GENERATE("process", "remote");
  INFO("aggregation: " << aggregation);
  const std::string client_comm = UniqueComm(), server_comm = UniqueComm();
  // Only the test's processes are watched: the kernel's totals map holds their entries alone,
  // and shows when netlens has forgotten them (process_ttl) and deleted the entries.
  NetlensProcess netlens(aggregation, {},
                         "process_ttl: 8s\nlabels:\n  pid: false\ntargets:\n  include:\n"
                         "    - comm: " +
                             client_comm + "\n    - comm: " + server_comm + "\n");
  const double baseline =
      ValueOfOne(netlens.ScrapeMetrics().samples, metric::kMapEntries, kTotalsMap);
  // One listening port for every run, so that at remote level all runs share service_port.
  TrafficOptions options{.comm = client_comm,
                         .server_comm = server_comm,
                         .connections = 3,
                         .rounds = 2,
                         .request = 1000,
                         .response = 7000,
                         .port = FreeLoopbackPort()};
  constexpr uint64_t kRuns = 5;  // 5 client and 5 server processes, one after the other
  std::set<pid_t> pids;
  for (uint64_t run = 0; run < kRuns; ++run) {
    const TrafficReport report = RunTraffic(options);
    RequireHelperCalls(options, report);
    pids.insert(report.client_pid);
  }
  REQUIRE(pids.size() == kRuns);
  auto side = [&](const std::string& comm, std::string_view direction, TrafficCounts counts) {
    Labels labels = {{"comm", comm}, {"direction", std::string(direction)}};
    Labels traffic_labels = labels;
    if (aggregation == "process") traffic_labels.erase("direction");
    return SideTotals{labels, traffic_labels, Times(counts, kRuns), kRuns * options.connections};
  };
  SideTotals client = side(client_comm, metric::kActive, ExpectedClientCounts(options));
  SideTotals server = side(server_comm, metric::kPassive, ExpectedServerCounts(options));
  auto exact = [&](const Scrape& scrape) { RequireTotals(scrape, client, server); };
  exact(netlens.ScrapeMetrics());

  // Every process has exited. Until netlens has forgotten all of them (their totals entries
  // deleted: process_ttl, checked every 5 s) and after, every scrape shows exactly the sums.
  const std::optional<int> scrapes = WaitForTotalsEntries(netlens, baseline, exact);
  INFO("the processes' kernel entries were deleted after " << scrapes.value_or(-1) << " scrapes");
  REQUIRE(scrapes.has_value());
  exact(netlens.ScrapeMetrics());  // nothing is left of the processes but their series

  // A later process of the same comm adds to the series, exactly.
  TrafficOptions later = options;
  later.connections = 2;
  later.request = 333;
  later.response = 4444;
  RequireHelperCalls(later, RunTraffic(later));
  client.counts = Plus(client.counts, ExpectedClientCounts(later));
  server.counts = Plus(server.counts, ExpectedServerCounts(later));
  client.connections += later.connections;
  server.connections += later.connections;
  exact(netlens.ScrapeMetrics());

  // Bounded: once that process is forgotten too, the series go process_ttl later.
  REQUIRE(WaitForTotalsEntries(netlens, baseline, exact).has_value());
  const auto forgotten = std::chrono::steady_clock::now();
  Scrape scrape = netlens.ScrapeMetrics();
  for (int wait = 0;
       wait < 200 && !Select(scrape.samples, metric::kSentBytes, {{"comm", client_comm}}).empty();
       ++wait) {
    exact(scrape);
    std::this_thread::sleep_for(milliseconds(100));
    scrape = netlens.ScrapeMetrics();
  }
  RequireNoSeries(scrape, client_comm);
  RequireNoSeries(scrape, server_comm);
  REQUIRE(std::chrono::steady_clock::now() - forgotten >= std::chrono::seconds(7));
}

TEST_CASE("labels: a SIGHUP that turns pid off sums the processes' series, exactly",
          "[labels][pid_off]") {
  const std::string client_comm = UniqueComm(), server_comm = UniqueComm();
  NetlensProcess netlens("process", {},
                         "labels:\n  pid: true\ntargets:\n  include:\n    - comm: " + client_comm +
                             "\n    - comm: " + server_comm + "\n");
  const TrafficOptions options{.comm = client_comm,
                               .server_comm = server_comm,
                               .connections = 2,
                               .rounds = 3,
                               .request = 500,
                               .response = 2500};
  constexpr uint64_t kRuns = 3;
  std::vector<TrafficReport> reports;
  for (uint64_t run = 0; run < kRuns; ++run) reports.push_back(RunTraffic(options));
  const Scrape per_process = netlens.ScrapeMetrics();
  for (const TrafficReport& report : reports) {
    for (const Side& side : {ClientSide(options, report), ServerSide(options, report)}) {
      INFO("the " << side.role << " side of nl-traffic, pid " << side.process.at("pid"));
      RequireTraffic(per_process, side.process, side.counts);
    }
  }

  std::string config;
  {
    std::ifstream in(netlens.config_path());
    config.assign(std::istreambuf_iterator<char>(in), {});
  }
  const size_t at = config.find("pid: true");
  REQUIRE(at != std::string::npos);
  config.replace(at, 9, "pid: false");
  std::ofstream(netlens.config_path()) << config;
  const auto reloads = [&] {
    return Sum(netlens.ScrapeMetrics().samples, metric::kConfigReloadsTotal,
               {{"result", "success"}});
  };
  netlens.Signal(SIGHUP);
  for (int i = 0; i < 100 && reloads() == 0; ++i) std::this_thread::sleep_for(milliseconds(50));
  REQUIRE(reloads() == 1);

  // The series start afresh from what the kernel holds: every process (none is forgotten yet).
  const uint64_t connections = kRuns * options.connections;
  const SideTotals client{{{"comm", client_comm}, {"direction", std::string(metric::kActive)}},
                          {{"comm", client_comm}},
                          Times(ExpectedClientCounts(options), kRuns),
                          connections};
  const SideTotals server{{{"comm", server_comm}, {"direction", std::string(metric::kPassive)}},
                          {{"comm", server_comm}},
                          Times(ExpectedServerCounts(options), kRuns),
                          connections};
  RequireTotals(netlens.ScrapeMetrics(), client, server);
}

}  // namespace
}  // namespace netlens::test
