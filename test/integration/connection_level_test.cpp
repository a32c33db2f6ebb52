// aggregation: connection — one series per connection and side, live and after the close.
#include <catch2/catch.hpp>

#include "expect.h"
#include "metric_names.h"
#include "netlens_process.h"

namespace netlens::test {
namespace {

// Every connection has exactly one series per side with its own exact counts.
void RequirePerConnectionTraffic(const Scrape& scrape, const TrafficOptions& options,
                                 const TrafficReport& report) {
  for (const Side& side : {ClientSide(options, report), ServerSide(options, report)}) {
    for (const TrafficConnection& connection : report.connections) {
      INFO("the " << side.role << " side of the connection from port " << connection.client_port);
      RequireTraffic(scrape, ConnectionLabels(side, options, report, connection),
                     side.per_connection);
    }
  }
}

// While the connections are open: per-connection counts and the open gauge.
void RequireOpen(const Scrape& scrape, const TrafficOptions& options, const TrafficReport& report) {
  RequirePerConnectionTraffic(scrape, options, report);
  for (const Side& side : {ClientSide(options, report), ServerSide(options, report)}) {
    INFO("the " << side.role << " side of nl-traffic");
    Labels comm_direction = {{"comm", side.process.at("comm")}, {"direction", side.direction}};
    RequireValue(scrape, metric::kConnectionsOpen, comm_direction, options.connections,
                 Match::kSum);
    RequireValue(scrape, metric::kConnectionsOpen, RemoteLabels(side, options, report),
                 options.connections);
  }
}

// After the close: the per-connection series are retained with their final counts.
void RequireClosed(const Scrape& scrape, const TrafficOptions& options,
                   const TrafficReport& report) {
  RequirePerConnectionTraffic(scrape, options, report);
  for (const Side& side : {ClientSide(options, report), ServerSide(options, report)}) {
    INFO("the " << side.role << " side of nl-traffic");
    Labels series = RemoteLabels(side, options, report);
    RequireConnections(scrape, series, options.connections, options.connections);
    RequireValue(scrape, metric::kConnectionsOpen, series, 0, Match::kSum);
  }
}

void CheckConnectionLevel(int family) {
  NetlensProcess netlens("connection");
  TrafficOptions options{.comm = UniqueComm(),
                         .family = family,
                         .connections = 3,
                         .rounds = 5,
                         .request = 700,
                         .response = 20000};
  HeldTraffic traffic(options);

  SECTION("scraped while open, then after the close") {
    RequireOpen(netlens.ScrapeMetrics(), options, traffic.report());
    const TrafficReport& report = traffic.Close();
    RequireHelperCalls(options, report);
    RequireClosed(netlens.ScrapeMetrics(), options, report);
  }

  SECTION("scraped only after the close") {
    const TrafficReport& report = traffic.Close();
    RequireHelperCalls(options, report);
    RequireClosed(netlens.ScrapeMetrics(), options, report);
  }
}

TEST_CASE("connection level: exact series per connection over IPv4", "[connection]") {
  CheckConnectionLevel(4);
}

TEST_CASE("connection level: exact series per connection over IPv6", "[connection]") {
  CheckConnectionLevel(6);
}

}  // namespace
}  // namespace netlens::test
