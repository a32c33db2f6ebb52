// The live /metrics output passes `promtool check metrics` without a single remark.
#include <catch2/catch.hpp>

#include "netlens_process.h"
#include "traffic_run.h"

#ifndef PROMTOOL_BINARY
#error "PROMTOOL_BINARY must be defined by the build (the path of promtool)"
#endif

namespace netlens::test {
namespace {

using namespace std::chrono_literals;

TEST_CASE("promtool: check metrics accepts the live output", "[promtool]") {
  std::string aggregation = GENERATE("process", "remote", "connection");
  INFO("aggregation: " << aggregation);
  // The service map on: its families are linted too.
  NetlensProcess netlens(aggregation, {}, "service_map:\n  enabled: true\n");
  std::string comm = UniqueComm();
  RunTraffic({.comm = comm, .family = 4, .connections = 3, .rounds = 2});
  RunTraffic({.comm = comm, .family = 6, .connections = 3, .rounds = 2});
  HeldTraffic open_connections({.comm = comm, .family = 4, .connections = 2, .rounds = 1});

  Scrape scrape = netlens.ScrapeMetrics();
  TempDir dir;
  std::string metrics = dir.Write("metrics.txt", scrape.body);
  Output promtool = Run({PROMTOOL_BINARY, "check", "metrics"}, 30s, metrics);
  INFO("promtool check metrics < " << metrics << " (scraped from " << scrape.source << ")");
  INFO("stdout:\n" << promtool.out << "\nstderr:\n" << promtool.err);
  if (!promtool.status.Success()) dir.Keep();
  REQUIRE(promtool.status.Describe() == "exit code 0");
  REQUIRE(promtool.out.empty());
  REQUIRE(promtool.err.empty());
}

}  // namespace
}  // namespace netlens::test
