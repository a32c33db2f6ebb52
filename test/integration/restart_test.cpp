// A netlens killed with SIGKILL (an OOM kill, a crash: no detach runs) leaves nothing in the
// kernel, and one started again attaches as one instance does and counts exactly, from 0.
#include <signal.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <set>
#include <thread>

#include "bpf_objects.h"
#include "expect.h"
#include "netlens_process.h"

namespace netlens::test {
namespace {

using namespace std::chrono_literals;

// Both ends of one nl-traffic run, counted exactly in `netlens`' next scrape.
void RequireCounted(const NetlensProcess& netlens, const TrafficOptions& options) {
  const TrafficReport report = RunTraffic(options);
  RequireHelperCalls(options, report);
  const Scrape scrape = netlens.ScrapeMetrics();
  for (const Side& side : {ClientSide(options, report), ServerSide(options, report)}) {
    INFO("the " << side.role << " side of nl-traffic");
    RequireTraffic(scrape, side.process, side.counts, Match::kSum);
  }
}

// The kernel frees a program, map or link when its last reference closes; a killed process's
// files are closed as it exits, the frees may trail it a little.
template <typename Exists>
std::set<uint32_t> StillThere(const std::set<uint32_t>& ids, Exists exists) {
  std::set<uint32_t> left;
  for (int attempt = 0; attempt < 50; ++attempt) {
    left.clear();
    std::copy_if(ids.begin(), ids.end(), std::inserter(left, left.end()), exists);
    if (left.empty()) break;
    std::this_thread::sleep_for(100ms);
  }
  return left;
}

// The names of the loaded programs among ids.
std::set<std::string> ProgramNames(const std::set<uint32_t>& ids) {
  const std::map<uint32_t, std::string> loaded = LoadedPrograms();
  std::set<std::string> names;
  for (uint32_t id : ids)
    if (auto it = loaded.find(id); it != loaded.end()) names.insert(it->second);
  return names;
}

// The loaded programs with one of netlens' program names that no process but `self` holds:
// netlens instances that other tests or users run on the host hold theirs.
std::set<uint32_t> NetlensProgramsHeldByNoOneElse(const std::set<std::string>& names, pid_t self) {
  const std::map<uint32_t, std::string> loaded = LoadedPrograms();
  const BpfObjects others = BpfObjectsOfAllBut(self);
  std::set<uint32_t> programs;
  for (const auto& [id, name] : loaded)
    if (names.count(name) && !others.programs.count(id)) programs.insert(id);
  return programs;
}

TEST_CASE("restart: after SIGKILL nothing is left and a new netlens counts exactly from 0",
          "[restart]") {
  const std::string comm = UniqueComm();
  NetlensProcess netlens("remote", {}, "targets:\n  include:\n    - comm: " + comm + "\n");
  const TrafficOptions before{.comm = comm, .connections = 3, .request = 1000, .response = 2000};
  RequireCounted(netlens, before);

  const BpfObjects first = BpfObjectsOf(netlens.pid());
  INFO("first instance: " << first.programs.size() << " programs, " << first.maps.size()
                          << " maps, " << first.links.size() << " links");
  REQUIRE_FALSE(first.programs.empty());
  REQUIRE_FALSE(first.maps.empty());
  REQUIRE_FALSE(first.links.empty());
  const std::set<std::string> names = ProgramNames(first.programs);
  REQUIRE(names.size() == first.programs.size());
  REQUIRE(NetlensProgramsHeldByNoOneElse(names, netlens.pid()) == first.programs);

  const ExitStatus killed = netlens.Kill();
  REQUIRE(killed.signal == SIGKILL);
  CHECK(StillThere(first.programs, ProgramExists).empty());
  CHECK(StillThere(first.maps, MapExists).empty());
  CHECK(StillThere(first.links, LinkExists).empty());

  // Same config, same port: as systemd's Restart=on-failure starts it again.
  netlens.Start();
  const BpfObjects second = BpfObjectsOf(netlens.pid());
  CHECK(second.programs.size() == first.programs.size());
  CHECK(second.maps.size() == first.maps.size());
  CHECK(second.links.size() == first.links.size());
  // Host-wide, by name: the new instance's programs and nothing of the old one.
  CHECK(NetlensProgramsHeldByNoOneElse(names, netlens.pid()) == second.programs);
  CHECK(ProgramNames(second.programs) == names);

  // Counters start from 0 (what the first instance counted is gone with it, a counter reset
  // to Prometheus), then count exactly: the same comm, new processes.
  RequireNoSeries(netlens.ScrapeMetrics(), comm);
  const TrafficOptions after{.comm = comm, .connections = 4, .request = 3000, .response = 500};
  RequireCounted(netlens, after);
  RequireConnections(netlens.ScrapeMetrics(), {{"comm", comm}, {"direction", "active"}}, 4, 4,
                     Match::kSum);
}

}  // namespace
}  // namespace netlens::test
