// Connections that open and close between two scrapes are all counted, at every level.
#include <catch2/catch.hpp>

#include "expect.h"
#include "netlens_process.h"

namespace netlens::test {
namespace {

TEST_CASE("churn: 200 connections between two scrapes are counted exactly", "[churn]") {
  std::string aggregation = GENERATE("process", "remote", "connection");
  INFO("aggregation: " << aggregation);
  NetlensProcess netlens(aggregation);
  TrafficOptions options{
      .comm = UniqueComm(), .connections = 200, .rounds = 1, .request = 100, .response = 100};

  RequireNoSeries(netlens.ScrapeMetrics(), options.comm);
  TrafficReport report = RunTraffic(options);
  RequireHelperCalls(options, report);

  Scrape scrape = netlens.ScrapeMetrics();
  for (const Side& side : {ClientSide(options, report), ServerSide(options, report)}) {
    INFO("the " << side.role << " side of nl-traffic");
    RequireTraffic(scrape, side.process, side.counts, Match::kSum);
    RequireConnections(scrape, DirectionLabels(side), options.connections, options.connections,
                       Match::kSum);
  }
}

}  // namespace
}  // namespace netlens::test
