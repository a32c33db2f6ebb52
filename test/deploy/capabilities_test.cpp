// After start-up netlens holds no capability it does not need, in every thread, and still
// counts exactly; and the capability bounding set of the systemd unit is enough to start it.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "deploy_support.h"
#include "expect.h"
#include "metrics/metric_names.h"
#include "ports.h"

namespace netlens::test {
namespace {

using namespace std::chrono_literals;

void RequireDropped(const Daemon& netlens, uint64_t kept, uint64_t bounding) {
  const std::vector<ThreadPrivileges> threads = ThreadsOf(netlens.pid());
  INFO(netlens.Describe());
  // The main thread, the HTTP event loop and its two worker threads, at least.
  REQUIRE(threads.size() >= 4);
  for (const ThreadPrivileges& thread : threads) {
    INFO(Describe(thread));
    CHECK(thread.effective == kept);
    CHECK(thread.permitted == kept);
    CHECK(thread.inheritable == 0);
    CHECK(thread.ambient == 0);
    CHECK(thread.bounding == bounding);
    CHECK(thread.no_new_privs == 1);
  }
}

double ReloadsOf(const Scrape& scrape, const std::string& result) {
  return Sum(scrape.samples, "netlens_config_reloads_total", {{"result", result}});
}

TEST_CASE("capabilities: every thread keeps exactly what map reads need, and counts stay exact",
          "[capabilities]") {
  const uint64_t kept = ExpectedKeptCapabilities();
  Daemon netlens({.aggregation = "process"});
  // Root starts with every capability, CAP_SETPCAP included: the bounding set is emptied.
  RequireDropped(netlens, kept, 0);
  const std::string log = netlens.Log();
  INFO(netlens.Describe());
  CHECK(log.find(kept == 0 ? "kept none;" : "kept cap_bpf (") != std::string::npos);
  CHECK(log.find("bounding set cleared; no_new_privs set") != std::string::npos);

  RequireExactTraffic([&] { return netlens.ScrapeMetrics(); });

  // SIGHUP re-reads the config file (root's file: no capability needed) and switches the
  // kernel's closed-connection map on (a map update through the fd).
  std::string config = ReadFile(netlens.config_path());
  const std::string process_level = "aggregation: process";
  config.replace(config.find(process_level), process_level.size(), "aggregation: connection");
  netlens.dir().Write("netlens.yaml", config);
  netlens.Signal(SIGHUP);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (ReloadsOf(netlens.ScrapeMetrics(), "success") != 1) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(50ms);
  }
  CHECK(ReloadsOf(netlens.ScrapeMetrics(), "failure") == 0);
  RequireExactTraffic([&] { return netlens.ScrapeMetrics(); }, /*per_connection=*/true);
  RequireDropped(netlens, kept, 0);

  // Detaching at SIGTERM needs nothing either.
  CHECK(netlens.Stop() == "exit code 0");
}

// "CAP_BPF CAP_PERFMON" from the unit's CapabilityBoundingSet= line.
std::vector<std::string> UnitBoundingSet() {
  std::ifstream unit(SourceDir() + "/deploy/systemd/netlens.service");
  std::vector<std::string> caps;
  for (std::string line; std::getline(unit, line);) {
    if (line.rfind("CapabilityBoundingSet=", 0) != 0) continue;
    std::stringstream words(line.substr(22));
    for (std::string cap; words >> cap;) caps.push_back(cap);
  }
  return caps;
}

// Whether netlens, started as root without any restriction, gets through start-up with
// --attach-mode `mode` on this kernel (not every kernel offers every mode).
bool StartsAsRoot(const std::string& mode, std::string& why_not) {
  TempDir dir;
  const std::string config =
      dir.Write("netlens.yaml", "listen: \"127.0.0.1:" + std::to_string(FreeLoopbackPort()) +
                                    "\"\nlog_level: debug\n");
  const std::string log = dir.PathOf("netlens.log");
  Child child({NETLENS_BINARY, "--config", config, "--attach-mode", mode},
              SpawnOptions{.output_file = log});
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ReadFile(log).find("capabilities dropped") != std::string::npos) {
      child.Kill();
      return true;
    }
    if (child.WaitFor(100ms)) break;
  }
  child.Kill();
  why_not = ReadFile(log);
  return false;
}

TEST_CASE("capabilities: the unit's CapabilityBoundingSet is enough in every attach mode",
          "[capabilities]") {
  const std::vector<std::string> caps = UnitBoundingSet();
  REQUIRE(caps ==
          std::vector<std::string>{"CAP_BPF", "CAP_PERFMON", "CAP_SYS_RESOURCE", "CAP_SETPCAP"});
  // setpriv takes "-all,+bpf,+perfmon,...": what systemd does with CapabilityBoundingSet= and
  // NoNewPrivileges=yes for a service that runs as root.
  std::string bounding = "-all";
  for (const std::string& cap : caps) {
    std::string name = cap.substr(4);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    bounding += ",+" + name;
  }
  const uint64_t kept = ExpectedKeptCapabilities();
  for (const char* mode : {"auto", "tp_btf", "tracepoint", "fentry", "kprobe"}) {
    DYNAMIC_SECTION("attach mode " << mode) {
      std::string why_not;
      if (!StartsAsRoot(mode, why_not)) {
        // Not a matter of capabilities: this kernel does not offer the mode to root either.
        WARN("attach mode " << mode << " does not start as root on this kernel:\n" << why_not);
        CHECK(std::string(mode) != "auto");
        return;
      }
      Daemon netlens({.aggregation = "process",
                      .extra_args = {"--attach-mode", mode},
                      .wrapper = {Tool("setpriv"), "--bounding-set=" + bounding, "--inh-caps=-all",
                                  "--no-new-privs"}});
      RequireDropped(netlens, kept, 0);
      RequireExactTraffic([&] { return netlens.ScrapeMetrics(); });
      CHECK(netlens.Stop() == "exit code 0");
    }
  }
}

}  // namespace
}  // namespace netlens::test
