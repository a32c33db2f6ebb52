// The TCP metric source: each scrape reads the tcp_* maps (kernel_maps.h), updates the
// aggregator and renders the netlens_tcp_* families, the TCP maps' own self metrics and the
// process metadata cache the aggregator keeps. Its connection, traffic and latency families
// are held to the series budget.
#pragma once

#include <prometheus/metric_family.h>

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "bpf/kernel_maps.h"
#include "bpf/tracer.h"
#include "metrics/metric_source.h"
#include "process/process_cgroups.h"
#include "targets/target_selector.h"
#include "tcp/aggregator.h"

namespace netlens {

class TcpSource : public MetricSource {
 public:
  // cgroups: the directory shared with the targets, for labels of processes that exited.
  TcpSource(Tracer& tracer, const AggregatorSettings& settings, CgroupDirectory& cgroups);

  const char* name() const override { return "tcp"; }
  void Collect(SourceOutput out) override;
  // Reads the maps without rendering: drains closed connections and expires
  // processes between scrapes.
  void Refresh();
  void Reconfigure(const AggregatorSettings& settings);
  // Drops what was counted provisionally for processes that turn out not to be watched.
  void SetTargetSelector(TargetSelector* targets) { targets_ = targets; }
  // Hands every snapshot (after the targets settled, closed connections included whatever
  // the level) to `observer`, the service map, and the closed connections DrainClosed() reads
  // between snapshots to `closed`; the kernel then keeps closed connections.
  using SnapshotObserver = std::function<void(const KernelSnapshot&)>;
  using ClosedObserver = std::function<void(const std::vector<std::pair<nl_closed_key, nl_conn>>&)>;
  void SetSnapshotObserver(SnapshotObserver observer, ClosedObserver closed);
  // Reads and empties tcp_closed for the closed observer, so that it holds the connections
  // closed since the last drain, not since the last refresh (app/main.cpp: every 200 ms).
  // Nothing at connection level, where the snapshot's aggregation needs them.
  void DrainClosed();

 private:
  void RefreshLocked(bool read_socket_counters) const;
  void CollectGarbageLocked() const;  // every GcInterval(process_ttl) at most
  // The settings with the kernel's cgroups of processes that exited.
  AggregatorSettings WithProcessCgroups(AggregatorSettings settings);
  void AppendListenQueue(std::vector<prometheus::MetricFamily>& out) const;
  void AppendProcessCache(std::vector<prometheus::MetricFamily>& out) const;
  void AppendMapUse(std::vector<prometheus::MetricFamily>& out) const;

  Tracer& tracer_;
  TargetSelector* targets_ = nullptr;
  SnapshotObserver observer_;
  ClosedObserver closed_observer_;
  std::vector<std::pair<nl_closed_key, nl_conn>> drained_;  // DrainClosed's, reused
  mutable std::mutex mutex_;
  ProcessCgroups process_cgroups_;  // used by aggregator_ under mutex_
  mutable KernelMaps maps_;
  mutable KernelSnapshot snapshot_;  // reused: its vectors keep their capacity
  mutable Aggregator aggregator_;
  mutable SteadyClock::time_point last_gc_{};
  mutable size_t conns_seen_ = 0, totals_seen_ = 0, closed_seen_ = 0, listeners_seen_ = 0;
};

}  // namespace netlens
