// Self metrics of the eBPF programs: runs and run time (kernel.bpf_stats_enabled), and runs the
// kernel skipped (recursion misses), one series per attached program.
#include <catch2/catch.hpp>
#include <fstream>
#include <string>

#include "expect.h"
#include "metric_names.h"
#include "netlens_process.h"

namespace netlens::test {
namespace {

constexpr const char* kStatsSysctl = "/proc/sys/kernel/bpf_stats_enabled";

// Sets kernel.bpf_stats_enabled for the scope and restores it after.
class BpfStats {
 public:
  explicit BpfStats(bool enabled) {
    std::ifstream(kStatsSysctl) >> previous_;
    Write(enabled ? "1" : "0");
  }
  ~BpfStats() { Write(previous_); }
  BpfStats(const BpfStats&) = delete;
  BpfStats& operator=(const BpfStats&) = delete;

 private:
  static void Write(const std::string& value) {
    std::ofstream file(kStatsSysctl);
    file << value << "\n";
    file.flush();
    REQUIRE(file.good());
  }
  std::string previous_ = "0";
};

// Runs of the programs that serve the send hook, summed (one program per mode; fentry and
// kprobe modes add one for tcp_sendpage on old kernels).
// Runs of the programs traffic sets off: the send programs (per-event accounting), or the
// state-change programs (kernel accounting: nothing runs per send).
double TrafficProgramRuns(const Scrape& scrape) {
  const char* which = PerEventAccounting() ? "send" : "nl_state";
  double runs = 0;
  for (const Sample& sample : scrape.samples) {
    if (sample.name != metric::kProgramRunsTotal) continue;
    const std::string& program = sample.labels.at("program");
    if (program.find(which) != std::string::npos) runs += sample.value;
  }
  return runs;
}

// What nl-traffic's run sets off at least: one run per send call, or five state changes per
// connection and side (SYN_SENT, ESTABLISHED, FIN_WAIT1, FIN_WAIT2, CLOSE; SYN_RECV,
// ESTABLISHED, CLOSE_WAIT, LAST_ACK, CLOSE).
double ExpectedTrafficRuns(const TrafficReport& report) {
  if (PerEventAccounting())
    return static_cast<double>(report.client_send_calls + report.server_send_calls);
  return 10.0 * static_cast<double>(report.connections.size());
}

TEST_CASE("program stats: runs counted while bpf_stats is on, frozen while off", "[self]") {
  NetlensProcess netlens("process");
  const Scrape first = netlens.ScrapeMetrics();
  // One series of each family per attached program.
  for (const Sample* attached : Select(first.samples, metric::kProgramAttached, {})) {
    if (attached->value != 1) continue;
    const Labels program = {{"program", attached->labels.at("program")}};
    INFO(Format(*attached));
    REQUIRE(Select(first.samples, metric::kProgramRunsTotal, program).size() == 1);
    REQUIRE(Select(first.samples, metric::kProgramRunSecondsTotal, program).size() == 1);
    REQUIRE(Select(first.samples, metric::kProgramMissedRunsTotal, program).size() == 1);
  }
  const TrafficOptions options{
      .comm = UniqueComm(), .connections = 2, .rounds = 5, .request = 100, .response = 100};
  {
    BpfStats on(true);
    const Scrape before = netlens.ScrapeMetrics();
    const TrafficReport report = RunTraffic(options);
    const Scrape after = netlens.ScrapeMetrics();
    // Every send (or state change) of nl-traffic ran a program (other processes may add more).
    REQUIRE(TrafficProgramRuns(after) - TrafficProgramRuns(before) >= ExpectedTrafficRuns(report));
    REQUIRE(Sum(after.samples, metric::kProgramRunSecondsTotal, {}) >
            Sum(before.samples, metric::kProgramRunSecondsTotal, {}));
  }
  BpfStats off(false);
  const Scrape before = netlens.ScrapeMetrics();
  RunTraffic(options);
  const Scrape after = netlens.ScrapeMetrics();
  REQUIRE(TrafficProgramRuns(after) == TrafficProgramRuns(before));
  REQUIRE(Sum(after.samples, metric::kProgramRunSecondsTotal, {}) ==
          Sum(before.samples, metric::kProgramRunSecondsTotal, {}));
}

}  // namespace
}  // namespace netlens::test
