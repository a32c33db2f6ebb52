// targets and filters: only the selected processes and connections are counted, exactly.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "expect.h"
#include "metric_names.h"
#include "netlens_process.h"
#include "ports.h"

namespace netlens::test {
namespace {

TrafficOptions Options(std::string comm) {
  return {.comm = std::move(comm), .connections = 3, .rounds = 4, .request = 700, .response = 9000};
}

// Both sides of nl-traffic counted exactly (process level).
void RequireCounted(const Scrape& scrape, const TrafficOptions& options,
                    const TrafficReport& report) {
  for (const Side& side : {ClientSide(options, report), ServerSide(options, report)}) {
    INFO("the " << side.role << " side of nl-traffic (comm " << side.process.at("comm") << ")");
    RequireTraffic(scrape, side.process, side.counts);
    RequireConnections(scrape, DirectionLabels(side), options.connections, options.connections);
  }
}

TrafficReport Run(const TrafficOptions& options) {
  TrafficReport report = RunTraffic(options);
  RequireHelperCalls(options, report);
  return report;
}

std::string Config(const std::string& text) { return "\n" + text; }

// `counted` and `dropped` both start after netlens (their first connection included): only
// `counted` is in the scrape, exactly.
void RequireOnlyCounted(const std::string& config, const TrafficOptions& counted,
                        const TrafficOptions& dropped) {
  NetlensProcess netlens("process", {}, Config(config));
  const TrafficReport report = Run(counted);
  Run(dropped);
  const Scrape scrape = netlens.ScrapeMetrics();
  RequireCounted(scrape, counted, report);
  RequireNoSeries(scrape, dropped.comm);
}

// comm is judged in the kernel at each connection.
TEST_CASE("targets: only the included comm is counted, from its first connection",
          "[targets][targets-matrix]") {
  const TrafficOptions selected = Options(UniqueComm());
  const TrafficOptions other = Options(UniqueComm());
  RequireOnlyCounted("targets:\n  include:\n    - comm: " + selected.comm + "\n", selected, other);
}

TEST_CASE("targets: an excluded comm is not counted, the others are", "[targets]") {
  const TrafficOptions kept = Options(UniqueComm());
  const TrafficOptions excluded = Options(UniqueComm());
  RequireOnlyCounted("targets:\n  exclude:\n    - comm: " + excluded.comm + "\n", kept, excluded);
}

// comm_regex and exe are judged in user space: a new process is counted provisionally until the
// daemon decides, and what it counted for a process it rejects never shows.
TEST_CASE("targets: comm_regex and exe, decided in user space, are exact",
          "[targets][targets-matrix]") {
  const std::string prefix = UniqueComm().substr(0, 8);
  const TrafficOptions selected = Options(prefix + "sel");
  const TrafficOptions rejected = Options(prefix + "rej");
  const std::string exe = std::filesystem::canonical(TrafficBinary()).string();
  RequireOnlyCounted("targets:\n  include:\n    - comm_regex: \"^" + prefix + "s\"\n    - exe: " +
                         exe + "\n  exclude:\n    - comm_regex: " + prefix + "rej$\n",
                     selected, rejected);
}

TEST_CASE("filters: remote_port and local_port select one side of a connection", "[targets]") {
  TrafficOptions client_only = Options(UniqueComm());
  client_only.server_comm = UniqueComm();
  client_only.port = FreeLoopbackPort();
  TrafficOptions server_only = Options(UniqueComm());
  server_only.server_comm = UniqueComm();
  server_only.port = FreeLoopbackPort();
  const TrafficOptions neither = Options(UniqueComm());
  NetlensProcess netlens(
      "process", {},
      Config("filters:\n  include:\n    - remote_port: " + std::to_string(client_only.port) +
             "\n    - local_port: " + std::to_string(server_only.port) + "\n"));
  const TrafficReport a = Run(client_only);
  const TrafficReport b = Run(server_only);
  Run(neither);
  const Scrape scrape = netlens.ScrapeMetrics();
  const Side client = ClientSide(client_only, a);
  RequireTraffic(scrape, client.process, client.counts);
  RequireConnections(scrape, DirectionLabels(client), 3, 3);
  RequireNoSeries(scrape, client_only.server_comm);
  const Side server = ServerSide(server_only, b);
  RequireTraffic(scrape, server.process, server.counts);
  RequireConnections(scrape, DirectionLabels(server), 3, 3);
  RequireNoSeries(scrape, server_only.comm);
  RequireNoSeries(scrape, neither.comm);
}

TEST_CASE("filters: remote_cidr over IPv4 and IPv6", "[targets][targets-matrix]") {
  TrafficOptions v6 = Options(UniqueComm());
  v6.family = 6;
  TrafficOptions to_127_0_0_2 = Options(UniqueComm());
  to_127_0_0_2.server_comm = UniqueComm();
  to_127_0_0_2.address = "127.0.0.2";
  const TrafficOptions to_127_0_0_1 = Options(UniqueComm());
  NetlensProcess netlens(
      "process", {},
      Config("filters:\n  include:\n    - remote_cidr: 127.0.0.2/32\n    - remote_cidr: "
             "\"::1\"\n  exclude:\n    - remote_cidr: 10.0.0.0/8\n"));
  const TrafficReport a = Run(v6);
  const TrafficReport b = Run(to_127_0_0_2);
  Run(to_127_0_0_1);
  const Scrape scrape = netlens.ScrapeMetrics();
  RequireCounted(scrape, v6, a);
  // The client connects to 127.0.0.2; the server's remote end is 127.0.0.1.
  const Side client = ClientSide(to_127_0_0_2, b);
  RequireTraffic(scrape, client.process, client.counts);
  RequireConnections(scrape, DirectionLabels(client), 3, 3);
  RequireNoSeries(scrape, to_127_0_0_2.server_comm);
  RequireNoSeries(scrape, to_127_0_0_1.comm);
}

// A cgroup under the cgroup v2 root, removed at the end.
class TestCgroup {
 public:
  explicit TestCgroup(const std::string& name) {
    std::ifstream mounts("/proc/self/mounts");
    std::string device, dir, type, rest;
    while (mounts >> device >> dir >> type && std::getline(mounts, rest)) {
      if (type == "cgroup2") break;
    }
    REQUIRE(type == "cgroup2");
    path_ = dir + "/" + name;
    REQUIRE(mkdir(path_.c_str(), 0755) == 0);
  }
  ~TestCgroup() { rmdir(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A cgroup listed at start is judged in the kernel; one created later by user space at the
// first connection of a process in it (provisionally counted until then).
TEST_CASE("targets: cgroup glob, for cgroups made before and after netlens started", "[targets]") {
  const std::string tag = "netlens-it-" + UniqueComm();
  TestCgroup early(tag + "-early");
  TrafficOptions in_early = Options(UniqueComm());
  in_early.cgroup = early.path();
  TrafficOptions in_late = Options(UniqueComm());
  const TrafficOptions outside = Options(UniqueComm());
  NetlensProcess netlens("process", {},
                         Config("targets:\n  include:\n    - cgroup: /" + tag + "-*\n"));
  TestCgroup late(tag + "-late");
  in_late.cgroup = late.path();
  const TrafficReport a = Run(in_early);
  const TrafficReport b = Run(in_late);
  Run(outside);
  const Scrape scrape = netlens.ScrapeMetrics();
  RequireCounted(scrape, in_early, a);
  RequireCounted(scrape, in_late, b);
  RequireNoSeries(scrape, outside.comm);
}

TEST_CASE("targets: SIGHUP applies new targets to new connections", "[targets]") {
  const TrafficOptions first = Options(UniqueComm());
  const TrafficOptions second = Options(UniqueComm());
  NetlensProcess netlens("process", {},
                         Config("targets:\n  include:\n    - comm: " + first.comm + "\n"));
  const TrafficReport a = Run(first);
  {
    std::ofstream config(netlens.config_path(), std::ios::app);
    config << "    - comm: " << second.comm << "\n";
  }
  const auto reloads = [&] {
    return Sum(netlens.ScrapeMetrics().samples, metric::kConfigReloadsTotal,
               {{"result", "success"}});
  };
  netlens.Signal(SIGHUP);
  for (int i = 0; i < 100 && reloads() == 0; ++i) usleep(50000);
  REQUIRE(reloads() == 1);
  const TrafficReport b = Run(second);
  const Scrape scrape = netlens.ScrapeMetrics();
  RequireCounted(scrape, first, a);
  RequireCounted(scrape, second, b);
}

}  // namespace
}  // namespace netlens::test
