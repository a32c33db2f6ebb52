// Counters never go backwards, in particular when open connections close and are folded.
#include <catch2/catch.hpp>

#include "expect.h"
#include "netlens_process.h"

namespace netlens::test {
namespace {

TEST_CASE("monotonic: no counter of a process decreases or disappears", "[monotonic]") {
  std::string aggregation = GENERATE("process", "remote", "connection");
  INFO("aggregation: " << aggregation);
  NetlensProcess netlens(aggregation);
  TrafficOptions options{
      .comm = UniqueComm(), .connections = 4, .rounds = 3, .request = 500, .response = 5000};

  HeldTraffic held(options);
  Scrape first = netlens.ScrapeMetrics();
  held.Close();
  RunTraffic(options);
  RunTraffic({.comm = options.comm, .family = 6, .connections = 2, .rounds = 2});
  Scrape second = netlens.ScrapeMetrics();

  size_t counters = 0;
  for (const Sample& before : first.samples) {
    if (before.type != "counter" || !HasLabels(before, {{"comm", options.comm}})) continue;
    ++counters;
    INFO("first scrape: " << Format(before));
    INFO("second scrape, lines of the same comm:\n"
         << RelevantLines(second, before.name, before.labels) << "from " << second.source);
    std::vector<const Sample*> after = Select(second.samples, before.name, before.labels);
    // Select() matches a subset; the same series is the one with exactly the same labels.
    std::erase_if(after, [&](const Sample* s) { return s->labels != before.labels; });
    REQUIRE(after.size() == 1);
    REQUIRE(after.front()->value >= before.value);
  }
  INFO("counters of comm " << options.comm << " in the first scrape from " << first.source);
  REQUIRE(counters > 0);
}

}  // namespace
}  // namespace netlens::test
