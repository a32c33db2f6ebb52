// The nginx request phases metric source (issue 17): finds the nginx binaries of the processes
// `nginx_phases.processes` selects, checks each against the builds whose struct offsets are
// known (nginx/nginx_builds.h), probes the known ones (nginx/phases_probe.h) and turns their
// requests into the netlens_nginx_* families (nginx/nginx_aggregator.h, docs/metrics.md).
//
// - Made only when the section selects processes at start (Start() loads the program while
//   netlens still has its privileges). A reload does not change it: a restart does.
// - A thread scans the processes every kScanPeriod (http/process_watch.h) and drains the ring
//   every kDrainPeriod (never a wakeup per request); Collect() drains once more, so a scrape
//   sees every request nginx freed before it.
// - A binary is read once per (device, inode), through /proc/PID/exe. An unknown build is
//   logged once, shown in netlens_nginx_binaries{build="unknown"} and never probed; so is one
//   that could not be probed (the reason in the log).
// - Bounded: NL_NGINX_BUILDS binaries probed, kMaxBinaries remembered; series as the
//   aggregator; processes judged (limits.target_processes).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "config/config.h"
#include "http/process_watch.h"
#include "metrics/metric_source.h"
#include "nginx/nginx_aggregator.h"
#include "nginx/nginx_config.h"
#include "nginx/phases_probe.h"

namespace netlens::nginx {

struct NginxSourceSettings {
  NginxPhasesConfig phases;
  size_t series_budget = 10000;
  LatencyBuckets latency_buckets;
  uint32_t max_processes = 16384;
  std::optional<std::string> btf_path;
  std::string proc_root = "/proc";
};

class NginxSource : public MetricSource {
 public:
  static constexpr auto kDrainPeriod = std::chrono::milliseconds(100);
  static constexpr auto kScanPeriod = std::chrono::seconds(1);
  static constexpr size_t kMaxBinaries = 256;

  // Loads the probe, probes the nginx binaries running now, starts the thread; throws
  // PhasesError.
  static std::unique_ptr<NginxSource> Start(const NginxSourceSettings& settings);
  ~NginxSource() override;
  NginxSource(const NginxSource&) = delete;
  NginxSource& operator=(const NginxSource&) = delete;

  const char* name() const override { return "nginx"; }
  void Collect(SourceOutput out) override;

 private:
  struct Binary {
    std::string path;     // the executable's path as the process sees it
    std::string version;  // "1.22.1"; empty if the file names none
    std::string build;    // the build table entry it matched; "unknown"; "failed" if not probed
  };

  explicit NginxSource(const NginxSourceSettings& settings);
  void ScanLocked();
  void Run();

  NginxSourceSettings settings_;
  std::unique_ptr<PhasesProbe> probe_;
  std::mutex mutex_;  // everything below
  http::ProcessWatch watch_;
  NginxAggregator aggregator_;
  std::vector<NginxBuild> builds_;  // the config's, then KnownBuilds()
  std::map<std::pair<dev_t, ino_t>, Binary> binaries_;
  uint64_t binaries_over_limit_ = 0;

  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace netlens::nginx
