// aggregation: process — exact per-process totals after nl-traffic has finished.
#include <catch2/catch.hpp>

#include "expect.h"
#include "level_scenario.h"
#include "metric_names.h"
#include "netlens_process.h"

namespace netlens::test {
namespace {

void CheckProcessLevel(int family) {
  NetlensProcess netlens("process");
  const TrafficOptions options = LevelTraffic(family);
  const TrafficReport report = RunCheckedTraffic(options);

  Scrape scrape = netlens.ScrapeMetrics();
  for (const Side& side : {ClientSide(options, report), ServerSide(options, report)}) {
    INFO("the " << side.role << " side of nl-traffic");
    RequireTraffic(scrape, side.process, side.counts);
    RequireConnections(scrape, DirectionLabels(side), options.connections, options.connections);
  }
  RequireValue(scrape, metric::kConnectionsOpen, {{"comm", options.comm}}, 0, Match::kSum);
}

TEST_CASE("process level: exact totals over IPv4", "[process]") { CheckProcessLevel(4); }

TEST_CASE("process level: exact totals over IPv6", "[process]") { CheckProcessLevel(6); }

}  // namespace
}  // namespace netlens::test
