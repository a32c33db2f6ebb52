// aggregation: remote — one series per side and remote endpoint, keyed by the service port.
#include <catch2/catch.hpp>
#include <set>

#include "expect.h"
#include "level_scenario.h"
#include "metric_names.h"
#include "netlens_process.h"

namespace netlens::test {
namespace {

void CheckRemoteLevel(int family) {
  NetlensProcess netlens("remote");
  const TrafficOptions options = LevelTraffic(family);
  const TrafficReport report = RunCheckedTraffic(options);

  Scrape scrape = netlens.ScrapeMetrics();
  for (const Side& side : {ClientSide(options, report), ServerSide(options, report)}) {
    INFO("the " << side.role << " side of nl-traffic");
    Labels series = RemoteLabels(side, options, report);
    RequireTraffic(scrape, series, side.counts);
    RequireConnections(scrape, series, options.connections, options.connections);
    RequireValue(scrape, metric::kConnectionsOpen, series, 0, Match::kSum);
  }

  // The ephemeral ports are dropped: no series is keyed by a client port.
  std::set<std::string> client_ports;
  for (const TrafficConnection& connection : report.connections) {
    client_ports.insert(std::to_string(connection.client_port));
  }
  for (const Sample& sample : scrape.samples) {
    if (!HasLabels(sample, {{"comm", options.comm}})) continue;
    auto service_port = sample.labels.find("service_port");
    INFO("scraped from " << scrape.source << ": " << Format(sample));
    REQUIRE(service_port != sample.labels.end());
    REQUIRE(client_ports.count(service_port->second) == 0);
  }
}

TEST_CASE("remote level: exact series per remote endpoint over IPv4", "[remote]") {
  CheckRemoteLevel(4);
}

TEST_CASE("remote level: exact series per remote endpoint over IPv6", "[remote]") {
  CheckRemoteLevel(6);
}

}  // namespace
}  // namespace netlens::test
