// The /metrics collectable: each scrape reads the kernel maps, updates the
// aggregator and renders the metric families, plus netlens' own metrics.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <mutex>
#include <string>
#include <vector>

#include "aggregator.h"
#include "kernel_maps.h"
#include "process_cgroups.h"
#include "target_selector.h"
#include "tracer.h"

namespace netlens {

struct BuildInfo {
  std::string version;
  std::string libbpf_version;
  std::string kernel;
};

class Collector : public prometheus::Collectable {
 public:
  Collector(Tracer& tracer, const AggregatorSettings& settings, BuildInfo build);

  std::vector<prometheus::MetricFamily> Collect() const override;
  // Reads the maps without rendering: drains closed connections and expires
  // processes between scrapes.
  void Refresh();
  void Reconfigure(const AggregatorSettings& settings);
  void CountReload(bool success);
  // Drops what was counted provisionally for processes that turn out not to be watched.
  void SetTargetSelector(TargetSelector* targets) { targets_ = targets; }

 private:
  void RefreshLocked() const;
  // The settings with the kernel's cgroups of processes that exited.
  AggregatorSettings WithProcessCgroups(AggregatorSettings settings);
  void AppendTraffic(std::vector<prometheus::MetricFamily>& out) const;
  void AppendConnections(std::vector<prometheus::MetricFamily>& out) const;
  void AppendListenQueue(std::vector<prometheus::MetricFamily>& out) const;
  void AppendLatency(std::vector<prometheus::MetricFamily>& out) const;
  void AppendProcessCache(std::vector<prometheus::MetricFamily>& out) const;
  void AppendSelf(std::vector<prometheus::MetricFamily>& out, double scrape_seconds) const;

  Tracer& tracer_;
  TargetSelector* targets_ = nullptr;
  BuildInfo build_;
  mutable std::mutex mutex_;
  ProcessCgroups process_cgroups_;  // used by aggregator_ under mutex_
  mutable KernelMaps maps_;
  mutable KernelSnapshot snapshot_;  // reused: its vectors keep their capacity
  mutable Aggregator aggregator_;
  mutable SteadyClock::time_point last_gc_{};
  mutable size_t conns_seen_ = 0, totals_seen_ = 0, closed_seen_ = 0, listeners_seen_ = 0;
  uint64_t reloads_ok_ = 0, reloads_failed_ = 0;
};

}  // namespace netlens
