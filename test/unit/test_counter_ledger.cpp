// CounterLedger: exact, monotonic sums over sources that come, go and move.
#include <catch2/catch.hpp>
#include <map>
#include <random>

#include "metrics/counter_ledger.h"

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

TEST_CASE("keys over the budget are summed into 'other', the busiest keys keep their series") {
  Ledger ledger(1, 3);  // two regular series and "other"
  auto scrape = [&](std::map<std::string, uint64_t> cumulative) {
    ledger.BeginScrape();
    for (const auto& [name, value] : cumulative)
      ledger.Observe("src-" + name, kTotals, Ref(name), nullptr, {value}, t0);
    ledger.Sweep(kTotals, t0);
    ledger.EndScrape(t0);
  };
  scrape({{"a", 10}, {"b", 10}, {"c", 10}, {"d", 10}});
  REQUIRE(ledger.series().size() == 3);
  REQUIRE(ValueOf(ledger, "a") == 10);
  REQUIRE(ValueOf(ledger, "b") == 10);
  REQUIRE(ValueOf(ledger, "other") == 20);
  REQUIRE(ledger.folded_keys() == 2);
  // c grows most: it takes the place of the quietest kept key; that key's 10 join "other",
  // and c's series starts with its growth since promotion (its first 10 stay in "other").
  scrape({{"a", 20}, {"b", 10}, {"c", 1010}, {"d", 10}});
  REQUIRE(ValueOf(ledger, "other") == 10 + 10 + 1000 + 10);  // b, c and d; then b demoted
  REQUIRE(ledger.series().count(netlens::SeriesKeyOf({"c"})) == 1);
  REQUIRE(ledger.series().count(netlens::SeriesKeyOf({"b"})) == 0);
  REQUIRE(ValueOf(ledger, "c") == 0);
  scrape({{"a", 20}, {"b", 10}, {"c", 1510}, {"d", 10}});
  REQUIRE(ValueOf(ledger, "c") == 500);
  REQUIRE(ValueOf(ledger, "a") + ValueOf(ledger, "c") + ValueOf(ledger, "other") ==
          20 + 10 + 1510 + 10);
  // c and d vanish: "other" keeps its value, nothing is folded now.
  scrape({{"a", 20}, {"b", 10}});
  REQUIRE(ValueOf(ledger, "other") == 1030);
  REQUIRE(ledger.folded_keys() == 1);  // b: still fed, still folded
}

TEST_CASE("a folded key needs twice the traffic of a kept one to take its place") {
  Ledger ledger(1, 2);  // one regular series and "other"
  uint64_t a = 0, b = 0;
  for (int i = 0; i < 20; ++i) {
    a += 100;
    b += (i % 2) ? 150 : 60;  // b is busier on some scrapes, never twice as busy over time
    ledger.BeginScrape();
    ledger.Observe("a", kTotals, Ref("a"), nullptr, {a}, t0);
    ledger.Observe("b", kTotals, Ref("b"), nullptr, {b}, t0);
    ledger.EndScrape(t0);
    REQUIRE(ledger.series().count(netlens::SeriesKeyOf({"a"})) == 1);
  }
  REQUIRE(ValueOf(ledger, "a") == a);
  REQUIRE(ValueOf(ledger, "other") == b);
}

TEST_CASE("credit of a folded key stays with the key when it is promoted") {
  Ledger ledger(1, 2);
  const SeriesRef a = Ref("a"), b = Ref("b");
  ledger.BeginScrape();
  ledger.Observe("a", kTotals, a, nullptr, {1000}, t0);
  ledger.Observe("conn-b", kLive, b, &b, {50}, t0);  // b folded: its 50 go to "other"
  ledger.EndScrape(t0);
  REQUIRE(ValueOf(ledger, "other") == 50);
  // The connection closes; the kernel folds its 50 (+ 5000 more) into b's totals.
  ledger.BeginScrape();
  ledger.Sweep(kLive, t0);
  ledger.Observe("a", kTotals, a, nullptr, {1000}, t0);
  ledger.Observe("totals-b", kTotals, b, nullptr, {5050}, t0);
  ledger.EndScrape(t0);  // b is now the busiest: promoted, a demoted
  REQUIRE(ledger.series().count(netlens::SeriesKeyOf({"b"})) == 1);
  REQUIRE(ValueOf(ledger, "other") == 1000 + 50 + 5000);
  REQUIRE(ValueOf(ledger, "b") == 0);
  ledger.BeginScrape();
  ledger.Observe("a", kTotals, a, nullptr, {1000}, t0);
  ledger.Observe("totals-b", kTotals, b, nullptr, {5060}, t0);
  ledger.EndScrape(t0);
  REQUIRE(ValueOf(ledger, "b") == 10);
  REQUIRE(ValueOf(ledger, "b") + ValueOf(ledger, "other") == 1000 + 5060);
}

TEST_CASE("top K keeps sums exact, counters monotonic and series within budget") {
  // Keys come and go with random traffic; connections close into totals one scrape late or
  // on time; every scrape: sum over series == truth, no series value ever decreases.
  constexpr size_t kBudget = 8;
  Ledger ledger(1, kBudget);
  std::mt19937 random(42);
  struct Conn {
    std::string key;
    uint64_t value = 0;
    uint64_t observed = 0;  // what the last scrape saw
  };
  struct Fold {
    std::string key;
    uint64_t value = 0;
    uint64_t observed = 0;
  };
  std::map<std::string, Conn> conns;       // live connections by id
  std::map<std::string, uint64_t> totals;  // totals per key (folded connections)
  std::vector<Fold> pending;               // closed, not yet visible in totals
  std::map<std::string, uint64_t> seen;    // last exported value per series
  int next_conn = 0, exact_scrapes = 0;
  for (int scrape = 0; scrape < 400; ++scrape) {
    for (const Fold& fold : pending) totals[fold.key] += fold.value;
    pending.clear();
    for (int i = 0; i < 3; ++i) {  // new connections on 40 keys of skewed popularity
      const int k =
          std::min<int>(39, static_cast<int>(std::exponential_distribution<>(0.15)(random)));
      conns["c" + std::to_string(next_conn++)] = {"k" + std::to_string(k)};
    }
    for (auto it = conns.begin(); it != conns.end();) {
      it->second.value += random() % 1000;
      if (random() % 4 == 0) {  // closes: folded at once, or (rarely) visible one scrape late
        if (random() % 8) {
          totals[it->second.key] += it->second.value;
        } else {
          pending.push_back({it->second.key, it->second.value, it->second.observed});
        }
        it = conns.erase(it);
      } else {
        ++it;
      }
    }
    ledger.BeginScrape();
    for (auto& [id, conn] : conns) {
      const SeriesRef ref = Ref(conn.key);
      ledger.Observe(id, kLive, ref, &ref, {conn.value}, t0);
      conn.observed = conn.value;
    }
    ledger.Sweep(kLive, t0);
    for (const auto& [key, value] : totals)
      ledger.Observe("t-" + key, kTotals, Ref(key), nullptr, {value}, t0);
    ledger.Sweep(kTotals, t0);
    ledger.EndScrape(t0);

    // What a scrape can know: live connections, totals, and folds not yet visible up to what
    // an earlier scrape saw of them.
    uint64_t truth = 0;
    for (const auto& [id, conn] : conns) truth += conn.value;
    for (const auto& [key, value] : totals) truth += value;
    for (const Fold& fold : pending) truth += fold.observed;

    REQUIRE(ledger.series().size() <= kBudget);
    uint64_t sum = 0;
    std::map<std::string, uint64_t> now;
    for (const auto& [key, series] : ledger.series()) {
      sum += series.value[0];
      now[key] = series.value[0];
      auto before = seen.find(key);
      if (before != seen.end()) REQUIRE(series.value[0] >= before->second);
    }
    seen = now;  // a series that left and comes back starts again from zero
    INFO("scrape " << scrape);
    // A fold the kernel makes visible a scrape late (a connection closing while the maps are
    // read) holds the key's sum back by what was seen of it, until it shows: never above.
    REQUIRE(sum <= truth);
    if (pending.empty()) {
      REQUIRE(sum == truth);
      ++exact_scrapes;
    }
  }
  REQUIRE(ledger.folded_keys() > 0);  // the budget was in play
  REQUIRE(exact_scrapes > 100);       // and most scrapes were checked for equality
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
  ledger.DropProcess(1, 0);
  REQUIRE(ledger.series().size() == 1);
  ledger.BeginScrape();  // a source seen again after the drop starts from zero
  ledger.Observe("s1", kTotals, Ref("p1", 1), nullptr, {15}, t0);
  REQUIRE(ValueOf(ledger, "p1") == 15);
}

TEST_CASE("a key seen with a newer start time ends the old process's series") {
  Ledger ledger(1, 100);
  SeriesRef old_process{{"77 worker"}, 77, "worker", 1000};
  SeriesRef new_process{{"77 worker"}, 77, "worker", 2000};
  ledger.BeginScrape();
  ledger.Observe("old-totals", kTotals, old_process, nullptr, {500}, t0);
  ledger.EndScrape(t0);
  REQUIRE(ValueOf(ledger, "77 worker") == 500);
  ledger.BeginScrape();
  ledger.Observe("old-totals", kTotals, old_process, nullptr, {600}, t0);
  ledger.Observe("new-totals", kTotals, new_process, nullptr, {7}, t0);
  ledger.Observe("old-totals-2", kTotals, old_process, nullptr, {9}, t0);
  ledger.EndScrape(t0);
  REQUIRE(ledger.series().size() == 1);
  REQUIRE(ValueOf(ledger, "77 worker") == 7);
  REQUIRE(ledger.series().begin()->second.start_time == 2000);
  ledger.BeginScrape();
  ledger.Observe("old-totals", kTotals, old_process, nullptr, {700}, t0);
  ledger.Observe("new-totals", kTotals, new_process, nullptr, {17}, t0);
  ledger.EndScrape(t0);
  REQUIRE(ValueOf(ledger, "77 worker") == 17);
}

TEST_CASE("recent traffic decays with time, not with the number of scrapes") {
  Ledger ledger(1, 2);  // one regular series and "other"
  ledger.BeginScrape();
  ledger.Observe("a", kTotals, Ref("a"), nullptr, {1000}, t0);
  ledger.EndScrape(t0);
  uint64_t b = 0;
  // Scraped every 100 ms for 2 s: a's burst still counts, b's trickle does not displace it.
  for (int i = 1; i <= 20; ++i) {
    const auto now = t0 + std::chrono::milliseconds(100 * i);
    ledger.BeginScrape();
    ledger.Observe("a", kTotals, Ref("a"), nullptr, {1000}, now);
    ledger.Observe("b", kTotals, Ref("b"), nullptr, {b += 10}, now);
    ledger.EndScrape(now);
    REQUIRE(ledger.series().count(netlens::SeriesKeyOf({"a"})) == 1);
  }
  // Ten minutes later a's burst has halved ten times: b's next trickle takes its place.
  const auto later = t0 + std::chrono::minutes(10);
  ledger.BeginScrape();
  ledger.Observe("a", kTotals, Ref("a"), nullptr, {1000}, later);
  ledger.Observe("b", kTotals, Ref("b"), nullptr, {b += 10}, later);
  ledger.EndScrape(later);
  REQUIRE(ledger.series().count(netlens::SeriesKeyOf({"b"})) == 1);
  REQUIRE(ValueOf(ledger, "other") == 1000 + 210);  // a's value, b's growth while folded
  REQUIRE(ValueOf(ledger, "b") == 0);               // b starts from its promotion
}

namespace {

// A series of labels.pid off, which every process with its labels feeds.
SeriesRef Shared(const std::string& name) {
  SeriesRef ref{{name}, 0, "c"};
  ref.shared = true;
  return ref;
}

struct Reading {
  std::string source;
  int kind;  // kLive: a live connection, folding into ref once it closes; kTotals
  uint64_t value;
};

// One scrape of sources feeding ref, in the Aggregator's order: live connections, then totals.
void ScrapeOf(Ledger& ledger, const SeriesRef& ref, const std::vector<Reading>& readings,
              SteadyClock::time_point now) {
  ledger.BeginScrape();
  for (int kind : {kLive, kTotals}) {
    for (const Reading& r : readings)
      if (r.kind == kind)
        ledger.Observe(r.source, kind, ref, kind == kLive ? &ref : nullptr, {r.value}, now);
    ledger.Sweep(kind, now);
  }
  ledger.EndScrape(now);
}

}  // namespace

TEST_CASE("a shared series sums its processes and keeps what a vanished one counted") {
  Ledger ledger(1, 100);
  const SeriesRef worker = Shared("worker");
  // Process a is connected; b has closed its connection.
  ScrapeOf(ledger, worker, {{"conn-a", kLive, 100}, {"totals-b", kTotals, 40}}, t0);
  REQUIRE(ValueOf(ledger, "worker") == 140);
  // a sends 20 more and closes: its 120 reach a's totals, a new source.
  ScrapeOf(ledger, worker, {{"totals-a", kTotals, 120}, {"totals-b", kTotals, 40}}, t0);
  REQUIRE(ValueOf(ledger, "worker") == 160);
  // a and b are forgotten (their kernel entries deleted): the series keeps its value.
  ScrapeOf(ledger, worker, {}, t0);
  REQUIRE(ValueOf(ledger, "worker") == 160);
  REQUIRE(ledger.series().at(netlens::SeriesKeyOf({"worker"})).sources == 0);
  // A later process of the same labels adds to it, from its first byte.
  ScrapeOf(ledger, worker, {{"totals-c", kTotals, 7}}, t0);
  REQUIRE(ValueOf(ledger, "worker") == 167);
}

TEST_CASE("folds into a shared series count once, whichever process's totals show them first") {
  Ledger ledger(1, 100);
  const SeriesRef worker = Shared("worker");
  ScrapeOf(ledger, worker, {{"conn-a", kLive, 100}, {"conn-b", kLive, 50}}, t0);
  REQUIRE(ValueOf(ledger, "worker") == 150);
  // Both close; a's fold is visible at once, b's one scrape late.
  ScrapeOf(ledger, worker, {{"totals-a", kTotals, 100}}, t0);
  REQUIRE(ValueOf(ledger, "worker") == 150);
  ScrapeOf(ledger, worker, {{"totals-a", kTotals, 100}, {"totals-b", kTotals, 50}}, t0);
  REQUIRE(ValueOf(ledger, "worker") == 150);
  // a is forgotten; only b's new traffic counts from here on.
  ScrapeOf(ledger, worker, {{"totals-b", kTotals, 53}}, t0);
  REQUIRE(ValueOf(ledger, "worker") == 153);
}

TEST_CASE("a shared series is neither ended by a newer process nor dropped with a process") {
  Ledger ledger(1, 100);
  ScrapeOf(ledger, Shared("worker"), {{"old-totals", kTotals, 500}, {"new-totals", kTotals, 7}},
           t0);
  REQUIRE(ValueOf(ledger, "worker") == 507);
  REQUIRE(ledger.series().begin()->second.pid == 0);
  ledger.DropProcesses({{77, 0}, {0, 0}});  // it belongs to no process: nothing goes
  ledger.ExpireIdle(std::chrono::seconds(1), t0 + std::chrono::hours(1));  // nor is it idle's
  REQUIRE(ValueOf(ledger, "worker") == 507);
}

TEST_CASE("a shared series without sources expires its retention after it lost the last one") {
  Ledger ledger(1, 100);
  const SeriesRef worker = Shared("worker");
  const auto retention = std::chrono::seconds(300);
  ScrapeOf(ledger, worker, {{"totals-a", kTotals, 10}}, t0);
  ledger.ExpireOrphans(retention, t0 + std::chrono::hours(1));  // fed: never an orphan
  REQUIRE(ledger.series().size() == 1);
  const auto forgotten = t0 + std::chrono::hours(1);
  ScrapeOf(ledger, worker, {}, forgotten);
  ledger.ExpireOrphans(retention, forgotten + retention);
  REQUIRE(ValueOf(ledger, "worker") == 10);
  // A new process within the retention: the series goes on, and is no orphan any more.
  const auto back = forgotten + std::chrono::seconds(200);
  ScrapeOf(ledger, worker, {{"totals-b", kTotals, 5}}, back);
  ledger.ExpireOrphans(retention, back + std::chrono::hours(2));
  REQUIRE(ValueOf(ledger, "worker") == 15);
  // It goes too: 300 s after the scrape that found the series without sources.
  const auto gone = back + std::chrono::hours(3);
  ScrapeOf(ledger, worker, {}, gone);
  ledger.ExpireOrphans(retention, gone + retention);
  REQUIRE(ledger.series().size() == 1);
  ledger.ExpireOrphans(retention, gone + retention + std::chrono::seconds(1));
  REQUIRE(ledger.series().empty());
}
