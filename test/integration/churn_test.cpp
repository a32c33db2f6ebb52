// Connections that open and close between two scrapes are all counted, at every level.
#include <catch2/catch.hpp>

#include "expect.h"
#include "netlens_process.h"

namespace netlens::test {
namespace {

// Both sides of nl-traffic: every byte and call counted once, and, once the connections have
// closed, every connection opened and closed.
void RequireBothSides(const Scrape& scrape, const TrafficOptions& options,
                      const TrafficReport& report, bool closed) {
  for (const Side& side : {ClientSide(options, report), ServerSide(options, report)}) {
    INFO("the " << side.role << " side of nl-traffic, connections "
                << (closed ? "closed" : "open"));
    RequireTraffic(scrape, side.process, side.counts, Match::kSum);
    if (!closed) continue;
    RequireConnections(scrape, DirectionLabels(side), options.connections, options.connections,
                       Match::kSum);
  }
}

TEST_CASE("churn: 200 connections between two scrapes are counted exactly", "[churn]") {
  std::string aggregation = GENERATE("process", "remote", "connection");
  INFO("aggregation: " << aggregation);
  NetlensProcess netlens(aggregation);
  TrafficOptions options{
      .comm = UniqueComm(), .connections = 200, .rounds = 1, .request = 100, .response = 100};

  RequireNoSeries(netlens.ScrapeMetrics(), options.comm);
  TrafficReport report = RunTraffic(options);
  RequireHelperCalls(options, report);

  RequireBothSides(netlens.ScrapeMetrics(), options, report, /*closed=*/true);
}

// The daemon reads maps in batches of 1024 entries (kernel_maps.cpp): 1500 connections held
// open are 3000 `conns` entries, and once closed 1500 `closed` entries at connection level,
// so both are read over several batches; every byte and connection must still count once.
TEST_CASE("churn: 1500 connections, more than one map-read batch, are counted exactly", "[churn]") {
  std::string aggregation = GENERATE("remote", "connection");
  INFO("aggregation: " << aggregation);
  NetlensProcess netlens(aggregation);
  TrafficOptions options{
      .comm = UniqueComm(), .connections = 1500, .rounds = 1, .request = 100, .response = 300};

  HeldTraffic held(options);
  RequireBothSides(netlens.ScrapeMetrics(), options, held.report(), /*closed=*/false);
  const TrafficReport& report = held.Close();
  RequireHelperCalls(options, report);
  RequireBothSides(netlens.ScrapeMetrics(), options, report, /*closed=*/true);
}

}  // namespace
}  // namespace netlens::test
