// Aggregator: kernel snapshots -> series at each level, exact across closes.
#include <catch2/catch.hpp>
#include <cstring>

#include "kernel_fixtures.h"
#include "tcp/aggregator.h"

using namespace netlens;

namespace {

// The single traffic series whose labels match; fails unless exactly one does.
const TrafficLedger::Series& Traffic(const Aggregator& agg,
                                     const std::vector<std::string>& labels) {
  return agg.traffic().series().at(SeriesKeyOf(labels));
}

const ConnectionLedger::Series& Connections(const Aggregator& agg,
                                            const std::vector<std::string>& labels) {
  return agg.connections().series().at(SeriesKeyOf(labels));
}

AggregatorSettings At(Level level, size_t budget = 1000) {
  AggregatorSettings s;
  s.level = level;
  s.series_budget = budget;
  s.labels = LabelSettings{.container_id = false,
                           .pod = false,
                           .k8s_namespace = false,
                           .systemd_unit = false,
                           .service = false};
  return s;
}

}  // namespace

TEST_CASE("process level sums connections and totals per pid and comm") {
  Aggregator agg(At(Level::kProcess));
  KernelSnapshot snap;
  snap.conns = {{1, Conn(42, "curl", NL_DIR_ACTIVE, 40000, 80, 100, 2000)},
                {2, Conn(42, "curl", NL_DIR_ACTIVE, 40001, 443, 50, 10)}};
  agg.Update(snap, t0);
  REQUIRE(agg.traffic_labels() == std::vector<std::string>{"pid", "comm"});
  const auto& s = Traffic(agg, {"42", "curl"});
  REQUIRE(s.value[0] == 150);
  REQUIRE(s.value[1] == 2010);
  REQUIRE(s.value[2] == 2);
  REQUIRE(agg.traffic().series().size() == 1);
  REQUIRE(Connections(agg, {"42", "curl", "active"}).value[0] == 2);
  REQUIRE(agg.open_connections().at({"42", "curl", "active"}) == 2);
}

TEST_CASE("remote level drops the ephemeral port and keeps the service port") {
  Aggregator agg(At(Level::kRemote));
  KernelSnapshot snap;
  snap.conns = {{1, Conn(7, "nginx", NL_DIR_PASSIVE, 80, 51000, 300, 40)},
                {2, Conn(7, "nginx", NL_DIR_PASSIVE, 80, 51001, 300, 40)},
                {3, Conn(7, "nginx", NL_DIR_ACTIVE, 52000, 8080, 40, 300)}};
  agg.Update(snap, t0);
  REQUIRE(agg.traffic().series().size() == 2);
  REQUIRE(Traffic(agg, {"7", "nginx", "passive", "ipv4", "10.0.0.2", "80"}).value[0] == 600);
  REQUIRE(Traffic(agg, {"7", "nginx", "active", "ipv4", "10.0.0.2", "8080"}).value[1] == 300);
}

TEST_CASE("a connection that closes between scrapes is counted exactly once at every level") {
  for (Level level : {Level::kProcess, Level::kRemote, Level::kConnection}) {
    Aggregator agg(At(level));
    nl_conn c = Conn(9, "app", NL_DIR_ACTIVE, 40000, 80, 100, 1000);
    KernelSnapshot live;
    live.conns = {{0xabc, c}};
    agg.Update(live, t0);

    c.traffic.bytes_sent = 160;  // 60 more, then the close
    KernelSnapshot after;
    after.totals = {Folded(c)};
    if (level == Level::kConnection) after.closed = {{{0xabc, c.open_ns}, c}};
    agg.Update(after, t0);
    uint64_t sent = 0;
    for (const auto& [key, s] : agg.traffic().series()) sent += s.value[0];
    INFO("level " << LevelName(level));
    REQUIRE(sent == 160);
    uint64_t opened = 0, closed = 0;
    for (const auto& [key, s] : agg.connections().series()) {
      opened += s.value[0];
      closed += s.value[1];
    }
    REQUIRE(opened == 1);
    REQUIRE(closed == 1);
    REQUIRE(agg.open_connections().empty());
  }
}

TEST_CASE("connections that open and close between two scrapes are all counted") {
  Aggregator agg(At(Level::kRemote));
  agg.Update(KernelSnapshot{}, t0);
  KernelSnapshot snap;
  nl_conn c = Conn(5, "burst", NL_DIR_ACTIVE, 40000, 9000, 200 * 10, 200 * 20);
  auto folded = Folded(c);
  folded.second.connections_opened = folded.second.connections_closed = 200;
  snap.totals = {folded};
  agg.Update(snap, t0);
  const std::vector<std::string> labels{"5", "burst", "active", "ipv4", "10.0.0.2", "9000"};
  REQUIRE(Traffic(agg, labels).value[0] == 2000);
  REQUIRE(Connections(agg, labels).value[0] == 200);
  REQUIRE(Connections(agg, labels).value[1] == 200);
}

TEST_CASE("connection level keeps closed connections as their own series") {
  Aggregator agg(At(Level::kConnection));
  nl_conn c = Conn(3, "cli", NL_DIR_ACTIVE, 41000, 6379, 10, 20);
  KernelSnapshot snap;
  snap.totals = {Folded(c)};
  snap.closed = {{{0x1, c.open_ns}, c}};
  agg.Update(snap, t0);
  const std::vector<std::string> labels{"3",        "cli",   "active",   "ipv4",
                                        "10.0.0.1", "41000", "10.0.0.2", "6379"};
  REQUIRE(Traffic(agg, labels).value[0] == 10);
  REQUIRE(agg.traffic().series().size() == 1);  // totals' untracked part is zero
  agg.Update(KernelSnapshot{.totals = {Folded(c)}}, t0 + std::chrono::seconds(10));
  REQUIRE(Traffic(agg, labels).value[0] == 10);  // retained, unchanged
  agg.Update(KernelSnapshot{.totals = {Folded(c)}}, t0 + std::chrono::seconds(400));
  REQUIRE(agg.traffic().series().empty());  // past closed_connection_retention
}

TEST_CASE("connection level shows untracked traffic without the ephemeral side") {
  Aggregator agg(At(Level::kConnection));
  nl_conn c = Conn(3, "cli", NL_DIR_ACTIVE, 41000, 6379, 10, 20);
  auto folded = Folded(c);
  folded.second.untracked = c.traffic;  // the closed map was full
  agg.Update(KernelSnapshot{.totals = {folded}}, t0);
  REQUIRE(Traffic(agg, {"3", "cli", "active", "ipv4", "", "", "10.0.0.2", "6379"}).value[1] == 20);
}

TEST_CASE("the budget folds new keys into 'other' and the sum stays exact") {
  Aggregator agg(At(Level::kRemote, 3));
  KernelSnapshot snap;
  for (uint16_t i = 0; i < 5; ++i)
    snap.conns.push_back({i + 1, Conn(100 + i, "w", NL_DIR_ACTIVE, 40000 + i, 80, 10, 0)});
  agg.Update(snap, t0);
  REQUIRE(agg.traffic().series().size() == 3);
  REQUIRE(agg.traffic().folded_keys() == 3);
  REQUIRE(Traffic(agg, std::vector<std::string>(6, "other")).value[0] == 30);
  uint64_t sent = 0;
  for (const auto& [key, s] : agg.traffic().series()) sent += s.value[0];
  REQUIRE(sent == 50);
}

TEST_CASE("series of a process gone for process_ttl are dropped and its totals deleted") {
  AggregatorSettings settings = At(Level::kProcess);
  settings.process_ttl = std::chrono::seconds(60);
  Aggregator agg(settings);
  nl_conn c = Conn(77, "shortlived", NL_DIR_ACTIVE, 40000, 80, 10, 0);
  KernelSnapshot snap;
  snap.totals = {Folded(c)};
  agg.Update(snap, t0);
  auto gone = [](uint32_t) -> std::optional<uint64_t> { return std::nullopt; };
  REQUIRE(agg.CollectGarbage(t0, gone).totals.empty());
  agg.NoteShown();
  REQUIRE(agg.CollectGarbage(t0 + std::chrono::seconds(59), gone).totals.empty());
  const auto expired = agg.CollectGarbage(t0 + std::chrono::seconds(61), gone);
  REQUIRE(expired.totals.size() == 1);
  REQUIRE(expired.totals[0].pid == 77);
  REQUIRE(agg.traffic().series().empty());
}

TEST_CASE("a process found gone expires only after a scrape has shown its series") {
  // Found in the soak: a short-lived client whose totals became a series, and was found gone, in
  // a refresh between scrapes expired in the next scrape's collection, before it was rendered.
  AggregatorSettings settings = At(Level::kProcess);
  settings.process_ttl = std::chrono::seconds(2);
  Aggregator agg(settings);
  agg.Update(
      KernelSnapshot{.totals = {Folded(Conn(78, "burst", NL_DIR_ACTIVE, 40000, 80, 1000, 0))}}, t0);
  auto gone = [](uint32_t) -> std::optional<uint64_t> { return std::nullopt; };
  REQUIRE(agg.CollectGarbage(t0, gone).totals.empty());  // found gone, not shown yet
  REQUIRE(agg.CollectGarbage(t0 + std::chrono::seconds(6), gone).totals.empty());
  REQUIRE(Traffic(agg, {"78", "burst"}).value[0] == 1000);
  agg.NoteShown();  // a scrape rendered it
  REQUIRE(agg.CollectGarbage(t0 + std::chrono::seconds(7), gone).totals.size() == 1);
  REQUIRE(agg.traffic().series().empty());
}

TEST_CASE("a running process, or one with live connections, is kept") {
  AggregatorSettings settings = At(Level::kProcess);
  settings.process_ttl = std::chrono::seconds(1);
  Aggregator agg(settings);
  KernelSnapshot snap;
  snap.conns = {{1, Conn(88, "daemon", NL_DIR_PASSIVE, 22, 50000, 1, 1)}};
  agg.Update(snap, t0);
  auto gone = [](uint32_t) -> std::optional<uint64_t> { return std::nullopt; };
  REQUIRE(agg.CollectGarbage(t0 + std::chrono::seconds(5), gone).totals.empty());
  REQUIRE(agg.traffic().series().size() == 1);
}

TEST_CASE("a reused pid ends the old process's series, the new process starts from zero") {
  AggregatorSettings settings = At(Level::kProcess);
  settings.process_ttl = std::chrono::seconds(60);
  Aggregator agg(settings);
  nl_conn old_process = Conn(77, "worker", NL_DIR_ACTIVE, 40000, 80, 1000, 0);
  old_process.start_time = 5'000'000'000;  // 5 s after boot
  auto old_totals = Folded(old_process);
  old_totals.first.start_time = old_process.start_time;
  agg.Update(KernelSnapshot{.totals = {old_totals}}, t0);
  REQUIRE(Traffic(agg, {"77", "worker"}).value[0] == 1000);
  REQUIRE(Traffic(agg, {"77", "worker"}).start_time == 5'000'000'000);

  // A new "worker" got pid 77 and sent 30 bytes; the old totals key is still in the kernel.
  nl_conn new_process = Conn(77, "worker", NL_DIR_ACTIVE, 40001, 80, 30, 0);
  new_process.start_time = 9'000'000'000;
  auto new_totals = Folded(new_process);
  new_totals.first.start_time = new_process.start_time;
  old_totals.second.traffic.bytes_sent = 1500;  // late growth of the old process: not counted
  agg.Update(KernelSnapshot{.totals = {old_totals, new_totals}}, t0);
  REQUIRE(agg.traffic().series().size() == 1);
  REQUIRE(Traffic(agg, {"77", "worker"}).value[0] == 30);
  REQUIRE(Traffic(agg, {"77", "worker"}).start_time == 9'000'000'000);
  // Same order the other way round: the old key does not take the series back.
  agg.Update(KernelSnapshot{.totals = {new_totals, old_totals}}, t0);
  REQUIRE(Traffic(agg, {"77", "worker"}).value[0] == 30);

  // /proc/77 is the new process: the old one is gone, and its kernel key is deleted after the
  // TTL; the new one is running and stays.
  const uint64_t new_ticks = StartTimeTicks(new_process.start_time);
  auto running = [&](uint32_t pid) -> std::optional<uint64_t> {
    return pid == 77 ? std::optional<uint64_t>(new_ticks) : std::nullopt;
  };
  REQUIRE(agg.CollectGarbage(t0, running).totals.empty());
  agg.NoteShown();
  const auto expired = agg.CollectGarbage(t0 + std::chrono::seconds(61), running);
  REQUIRE(expired.totals.size() == 1);
  REQUIRE(expired.totals[0].start_time == old_process.start_time);
  REQUIRE(Traffic(agg, {"77", "worker"}).value[0] == 30);
}

namespace {

AggregatorSettings WithoutPid(Level level, std::chrono::seconds ttl = std::chrono::seconds(60)) {
  AggregatorSettings s = At(level);
  s.labels.pid = false;
  s.process_ttl = ttl;
  return s;
}

// What the kernel holds of a process's closed connection c: totals, and one connection
// duration sample of `ns` in the latency map.
nl_conn Process(uint32_t pid, uint64_t start_time, uint16_t lport, uint64_t sent,
                uint64_t received) {
  nl_conn c = Conn(pid, "worker", NL_DIR_ACTIVE, lport, 80, sent, received);
  c.start_time = start_time;
  return c;
}

std::pair<nl_agg_key, nl_agg_value> TotalsOf(const nl_conn& c) {
  auto totals = Folded(c);
  totals.first.start_time = c.start_time;
  return totals;
}

std::pair<nl_hist_key, nl_hist> DurationOf(const nl_conn& c, uint32_t bucket, uint64_t ns) {
  nl_hist_key key{};
  key.agg = TotalsOf(c).first;
  key.kind = NL_HIST_LIFETIME;
  nl_hist hist{};
  hist.buckets[bucket] = 1;
  hist.sum_ns = ns;
  hist.count = 1;
  return {key, hist};
}

}  // namespace

TEST_CASE("labels.pid off: no pid label, one series per comm, summed over its processes") {
  Aggregator agg(WithoutPid(Level::kProcess));
  REQUIRE(agg.traffic_labels() == std::vector<std::string>{"comm"});
  REQUIRE(agg.connection_labels() == std::vector<std::string>{"comm", "direction"});
  const nl_conn a = Process(10, 1'000'000'000, 40000, 100, 1000);
  const nl_conn b = Process(11, 2'000'000'000, 40001, 30, 7);
  KernelSnapshot snap;
  snap.conns = {{1, a}, {2, b}};
  agg.Update(snap, t0);
  REQUIRE(agg.traffic().series().size() == 1);
  REQUIRE(Traffic(agg, {"worker"}).value[0] == 130);
  REQUIRE(Traffic(agg, {"worker"}).value[1] == 1007);
  REQUIRE(Traffic(agg, {"worker"}).pid == 0);
  REQUIRE(Connections(agg, {"worker", "active"}).value[0] == 2);
  REQUIRE(agg.open_connections().at({"worker", "active"}) == 2);

  AggregatorSettings remote = WithoutPid(Level::kRemote);
  Aggregator at_remote(remote);
  REQUIRE(at_remote.traffic_labels() == std::vector<std::string>{"comm", "direction", "family",
                                                                 "remote_address", "service_port"});
  at_remote.Update(snap, t0);
  REQUIRE(Traffic(at_remote, {"worker", "active", "ipv4", "10.0.0.2", "80"}).value[0] == 130);
}

TEST_CASE("labels.pid off: a series stays exact and monotonic as its processes are forgotten") {
  Aggregator agg(WithoutPid(Level::kRemote));
  const std::vector<std::string> labels{"worker", "active", "ipv4", "10.0.0.2", "80"};
  nl_conn a = Process(10, 1'000'000'000, 40000, 100, 1000);
  const nl_conn b = Process(11, 2'000'000'000, 40001, 30, 7);
  // a is connected, b has closed its connection and exited.
  KernelSnapshot snap;
  snap.conns = {{1, a}};
  snap.totals = {TotalsOf(b)};
  snap.latency = {DurationOf(b, 20, 1'500'000)};
  agg.Update(snap, t0);
  REQUIRE(Traffic(agg, labels).value[0] == 130);

  // a sends 20 more and closes: its 120 reach its own totals key.
  a.traffic.bytes_sent = 120;
  snap.conns.clear();
  snap.totals = {TotalsOf(b), TotalsOf(a)};
  snap.latency = {DurationOf(b, 20, 1'500'000), DurationOf(a, 22, 5'000'000)};
  agg.Update(snap, t0 + std::chrono::seconds(1));
  REQUIRE(Traffic(agg, labels).value[0] == 150);
  REQUIRE(Connections(agg, labels).value[0] == 2);
  REQUIRE(Connections(agg, labels).value[1] == 2);
  REQUIRE(agg.latency(NL_HIST_LIFETIME).series().size() == 1);
  const auto& duration = agg.latency(NL_HIST_LIFETIME).series().begin()->second;
  REQUIRE(duration.value[NL_HIST_BUCKETS + 1] == 2);
  REQUIRE(duration.value[NL_HIST_BUCKETS] == 6'500'000);

  // Both exited: process_ttl later their kernel entries are deleted, not the series.
  auto gone = [](uint32_t) -> std::optional<uint64_t> { return std::nullopt; };
  REQUIRE(agg.CollectGarbage(t0 + std::chrono::seconds(2), gone).totals.empty());
  agg.NoteShown();
  const auto expired = agg.CollectGarbage(t0 + std::chrono::seconds(63), gone);
  REQUIRE(expired.totals.size() == 2);
  REQUIRE(expired.latency.size() == 2);
  REQUIRE(Traffic(agg, labels).value[0] == 150);
  agg.Update(KernelSnapshot{}, t0 + std::chrono::seconds(64));
  REQUIRE(Traffic(agg, labels).value[0] == 150);
  REQUIRE(Traffic(agg, labels).value[1] == 1007);
  REQUIRE(Connections(agg, labels).value[0] == 2);
  REQUIRE(agg.latency(NL_HIST_LIFETIME).series().begin()->second.value[NL_HIST_BUCKETS + 1] == 2);

  // A later process of the same comm, with a's pid reused: it adds to the same series.
  const nl_conn c = Process(10, 9'000'000'000, 40002, 5, 6);
  snap.totals = {TotalsOf(c)};
  snap.latency = {DurationOf(c, 20, 1'000'000)};
  agg.Update(snap, t0 + std::chrono::seconds(100));
  REQUIRE(agg.traffic().series().size() == 1);
  REQUIRE(Traffic(agg, labels).value[0] == 155);
  REQUIRE(Traffic(agg, labels).value[1] == 1013);
  REQUIRE(Connections(agg, labels).value[0] == 3);
  const auto& after = agg.latency(NL_HIST_LIFETIME).series().begin()->second;
  REQUIRE(after.value[20] == 2);
  REQUIRE(after.value[22] == 1);
  REQUIRE(after.value[NL_HIST_BUCKETS + 1] == 3);
}

TEST_CASE("labels.pid off: a series no process feeds goes process_ttl after the last one") {
  Aggregator agg(WithoutPid(Level::kProcess));
  const nl_conn a = Process(10, 1'000'000'000, 40000, 100, 0);
  agg.Update(KernelSnapshot{.totals = {TotalsOf(a)}}, t0);
  auto gone = [](uint32_t) -> std::optional<uint64_t> { return std::nullopt; };
  agg.CollectGarbage(t0, gone);
  agg.NoteShown();
  REQUIRE(agg.CollectGarbage(t0 + std::chrono::seconds(61), gone).totals.size() == 1);
  const auto forgotten = t0 + std::chrono::seconds(65);  // the first scrape without its entries
  agg.Update(KernelSnapshot{}, forgotten);
  agg.Update(KernelSnapshot{}, forgotten + std::chrono::seconds(60));
  REQUIRE(Traffic(agg, {"worker"}).value[0] == 100);
  REQUIRE(Connections(agg, {"worker", "active"}).value[0] == 1);
  agg.Update(KernelSnapshot{}, forgotten + std::chrono::seconds(61));
  REQUIRE(agg.traffic().series().empty());
  REQUIRE(agg.connections().series().empty());
}

TEST_CASE("labels.pid switched by a reload starts the series afresh from the kernel's counts") {
  Aggregator agg(At(Level::kProcess));
  const nl_conn a = Process(10, 1'000'000'000, 40000, 100, 0);
  const nl_conn b = Process(11, 2'000'000'000, 40001, 30, 0);
  const KernelSnapshot snap{.totals = {TotalsOf(a), TotalsOf(b)}};
  agg.Update(snap, t0);
  REQUIRE(agg.traffic().series().size() == 2);
  agg.Reconfigure(WithoutPid(Level::kProcess));
  agg.Update(snap, t0);
  REQUIRE(agg.traffic().series().size() == 1);
  REQUIRE(Traffic(agg, {"worker"}).value[0] == 130);
  agg.Reconfigure(At(Level::kProcess));
  agg.Update(snap, t0);
  REQUIRE(Traffic(agg, {"10", "worker"}).value[0] == 100);
}

TEST_CASE("labels.pid off: a closed connection's series goes closed_connection_retention later") {
  AggregatorSettings settings = WithoutPid(Level::kConnection, std::chrono::seconds(3600));
  settings.closed_retention = std::chrono::seconds(300);
  Aggregator agg(settings);
  const nl_conn c = Conn(3, "cli", NL_DIR_ACTIVE, 41000, 6379, 10, 20);
  const std::vector<std::string> labels{"cli",   "active",   "ipv4", "10.0.0.1",
                                        "41000", "10.0.0.2", "6379"};
  agg.Update(KernelSnapshot{.totals = {Folded(c)}, .closed = {{{0x1, c.open_ns}, c}}}, t0);
  REQUIRE(Traffic(agg, labels).value[0] == 10);
  agg.Update(KernelSnapshot{.totals = {Folded(c)}}, t0 + std::chrono::seconds(300));
  REQUIRE(Traffic(agg, labels).value[0] == 10);
  agg.Update(KernelSnapshot{.totals = {Folded(c)}}, t0 + std::chrono::seconds(301));
  REQUIRE(agg.traffic().series().empty());
  REQUIRE(Connections(agg, {"cli", "active", "ipv4", "10.0.0.2", "6379"}).value[0] == 1);
}
