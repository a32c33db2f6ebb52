// CounterLedger: exact, monotonic sums over sources that come, go and move.
#include <catch2/catch.hpp>

#include "counter_ledger.h"

using netlens::CounterLedger;
using netlens::SeriesRef;
using netlens::SteadyClock;
using Ledger = CounterLedger<1>;

namespace {

constexpr int kLive = 1, kTotals = 2;
const SteadyClock::time_point t0{};

SeriesRef Ref(const std::string& name, uint32_t pid = 1) { return {{name}, pid, "c"}; }

uint64_t ValueOf(const Ledger& ledger, const std::string& name) {
  return ledger.series().at(netlens::SeriesKeyOf({name})).value[0];
}

}  // namespace

TEST_CASE("a source's growth is added once per scrape") {
  Ledger ledger(1, 100);
  const SeriesRef a = Ref("a");
  ledger.BeginScrape();
  ledger.Observe("conn1", kLive, a, &a, {100}, t0);
  ledger.Observe("conn2", kLive, a, &a, {5}, t0);
  REQUIRE(ValueOf(ledger, "a") == 105);
  ledger.BeginScrape();
  ledger.Observe("conn1", kLive, a, &a, {150}, t0);
  ledger.Observe("conn2", kLive, a, &a, {5}, t0);
  REQUIRE(ValueOf(ledger, "a") == 155);
}

TEST_CASE("a connection folded into totals in the same scrape is counted once") {
  Ledger ledger(1, 100);
  const SeriesRef a = Ref("a");
  ledger.BeginScrape();
  ledger.Observe("conn", kLive, a, &a, {100}, t0);
  ledger.Observe("totals", kTotals, a, nullptr, {1000}, t0);
  REQUIRE(ValueOf(ledger, "a") == 1100);
  // The connection sent 20 more, closed, and the kernel folded its 120 into totals.
  ledger.BeginScrape();
  ledger.Sweep(kLive, t0);
  ledger.Observe("totals", kTotals, a, nullptr, {1120}, t0);
  ledger.Sweep(kTotals, t0);
  REQUIRE(ValueOf(ledger, "a") == 1120);
}

TEST_CASE("a fold seen one scrape late neither dips nor double counts") {
  Ledger ledger(1, 100);
  const SeriesRef a = Ref("a");
  ledger.BeginScrape();
  ledger.Observe("conn", kLive, a, &a, {100}, t0);
  ledger.Observe("totals", kTotals, a, nullptr, {0}, t0);
  REQUIRE(ValueOf(ledger, "a") == 100);
  ledger.BeginScrape();  // the connection is gone, its fold not visible yet
  ledger.Sweep(kLive, t0);
  ledger.Observe("totals", kTotals, a, nullptr, {0}, t0);
  REQUIRE(ValueOf(ledger, "a") == 100);
  ledger.BeginScrape();  // now it is: 130 in all
  ledger.Observe("totals", kTotals, a, nullptr, {130}, t0);
  REQUIRE(ValueOf(ledger, "a") == 130);
}

TEST_CASE("a retired source adds its final value and leaves nothing to credit") {
  Ledger ledger(1, 100);
  const SeriesRef conn = Ref("conn");
  ledger.BeginScrape();
  ledger.Observe("c1", kLive, conn, nullptr, {10}, t0);
  ledger.BeginScrape();
  ledger.Observe("c1", 3, conn, nullptr, {25}, t0);
  ledger.Retire("c1");
  ledger.Sweep(kLive, t0);
  REQUIRE(ValueOf(ledger, "conn") == 25);
  REQUIRE(ledger.series().at(netlens::SeriesKeyOf({"conn"})).sources == 0);
}

TEST_CASE("keys over the budget are summed into one 'other' series, first come first kept") {
  Ledger ledger(1, 3);  // two regular series and "other"
  ledger.BeginScrape();
  for (const char* name : {"a", "b", "c", "d"}) {
    const SeriesRef ref = Ref(name);
    ledger.Observe(std::string("src-") + name, kTotals, ref, nullptr, {10}, t0);
  }
  REQUIRE(ledger.series().size() == 3);
  REQUIRE(ValueOf(ledger, "a") == 10);
  REQUIRE(ValueOf(ledger, "b") == 10);
  REQUIRE(ValueOf(ledger, "other") == 20);
  REQUIRE(ledger.folded_keys() == 2);
  ledger.BeginScrape();  // c keeps going to "other" even though it grows most
  for (const char* name : {"a", "b", "c", "d"}) {
    const SeriesRef ref = Ref(name);
    ledger.Observe(std::string("src-") + name, kTotals, ref, nullptr,
                   {name[0] == 'c' ? 1000u : 10u}, t0);
  }
  REQUIRE(ValueOf(ledger, "other") == 1010);
  ledger.BeginScrape();  // c and d vanish: "other" keeps its value, nothing is folded now
  for (const char* name : {"a", "b"}) {
    const SeriesRef ref = Ref(name);
    ledger.Observe(std::string("src-") + name, kTotals, ref, nullptr, {10}, t0);
  }
  ledger.Sweep(kTotals, t0);
  REQUIRE(ValueOf(ledger, "other") == 1010);
  REQUIRE(ledger.folded_keys() == 0);
}

TEST_CASE("a source whose labels change feeds the new series from then on") {
  Ledger ledger(1, 100);
  ledger.BeginScrape();
  ledger.Observe("conn", kLive, Ref("listener"), nullptr, {3}, t0);
  ledger.BeginScrape();
  ledger.Observe("conn", kLive, Ref("worker"), nullptr, {10}, t0);
  REQUIRE(ValueOf(ledger, "listener") == 3);
  REQUIRE(ValueOf(ledger, "worker") == 7);
}

TEST_CASE("idle series without sources expire after the retention, others stay") {
  Ledger ledger(1, 100);
  const auto later = t0 + std::chrono::seconds(301);
  ledger.BeginScrape();
  ledger.Observe("closed", 3, Ref("gone"), nullptr, {10}, t0);
  ledger.Retire("closed");
  ledger.Observe("live", kLive, Ref("live"), nullptr, {10}, t0);
  ledger.ExpireIdle(std::chrono::seconds(300), t0 + std::chrono::seconds(299));
  REQUIRE(ledger.series().size() == 2);
  ledger.ExpireIdle(std::chrono::seconds(300), later);
  REQUIRE(ledger.series().size() == 1);
  REQUIRE(ValueOf(ledger, "live") == 10);
}

TEST_CASE("dropping a process removes its series and sources only") {
  Ledger ledger(1, 100);
  ledger.BeginScrape();
  ledger.Observe("s1", kTotals, Ref("p1", 1), nullptr, {10}, t0);
  ledger.Observe("s2", kTotals, Ref("p2", 2), nullptr, {20}, t0);
  ledger.DropProcess(1, "c");
  REQUIRE(ledger.series().size() == 1);
  ledger.BeginScrape();  // a source seen again after the drop starts from zero
  ledger.Observe("s1", kTotals, Ref("p1", 1), nullptr, {15}, t0);
  REQUIRE(ValueOf(ledger, "p1") == 15);
}
