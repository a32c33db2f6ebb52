// Owns the contents of the kernel's target and filter maps (ebpf/targets/targets.bpf.h): fills them
// from the config (at start and on SIGHUP), answers the kernel's questions about processes it
// cannot judge alone, and removes from each snapshot what was counted provisionally for processes
// that turned out not to be watched.
#pragma once

#include <prometheus/metric_family.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "bpf/kernel_snapshot.h"
#include "bpf/tracer.h"
#include "config/config.h"
#include "metrics/metric_source.h"
#include "process/cgroup_directory.h"

struct ring_buffer;

namespace netlens {

// Also the "targets" metric source: its decisions and the fill of its maps.
class TargetSelector : public MetricSource {
 public:
  // cgroups: the directory shared with the labels of exited processes.
  TargetSelector(const Tracer& tracer, const Limits& limits, CgroupDirectory& cgroups);
  ~TargetSelector();
  TargetSelector(const TargetSelector&) = delete;
  TargetSelector& operator=(const TargetSelector&) = delete;

  // Writes the maps for this config; a reload applies to connections opened after it.
  void Apply(const TargetsConfig& targets, const FiltersConfig& filters);
  // Decides every pending process, then drops from `snapshot` the entries of processes judged
  // not watched; returns the totals and latency keys the kernel should delete.
  struct Dropped {
    std::vector<nl_agg_key> totals;
    std::vector<nl_hist_key> latency;
  };
  Dropped Settle(KernelSnapshot& snapshot);
  // The same for closed connections read between snapshots (TcpSource::DrainClosed).
  void SettleClosed(std::vector<std::pair<nl_closed_key, nl_conn>>& closed);
  const char* name() const override { return "targets"; }
  void Collect(SourceOutput out) override { AppendMetrics(out.families); }
  void AppendMetrics(std::vector<prometheus::MetricFamily>& out);

 private:
  struct Verdict {
    std::string comm;
    bool watched = true;
  };
  void DecideLocked(uint32_t tgid, const std::string& comm, uint64_t cgroup_id);
  void DecidePendingLocked();
  void RescanLocked();
  void ListCgroupsLocked();
  void WriteSelectorMapsLocked();
  void WriteFilterMapsLocked();
  bool DroppedLocked(uint32_t pid, const char* comm) const;
  static int OnEvent(void* self, void* data, size_t size);
  void PollEvents();

  MapInfo settings_, pids_, comms_, cgroups_, procs_, ports_, cidrs_, stats_, listeners_,
      target_listeners_;
  uint32_t max_processes_;
  CgroupDirectory& cgroup_directory_;
  int cpus_;

  std::mutex mutex_;
  TargetsConfig targets_;
  FiltersConfig filters_;
  uint32_t flags_ = 0;
  std::map<uint32_t, Verdict> verdicts_;  // processes user space judged after they were pending
  std::set<uint32_t> referenced_;         // pids in the last snapshot
  std::chrono::steady_clock::time_point last_rescan_{};
  size_t watched_processes_ = 0, processes_ = 0, cgroups_listed_ = 0;
  uint64_t cgroups_full_ = 0, verdicts_full_ = 0, decided_watched_ = 0, decided_unwatched_ = 0;

  ring_buffer* events_ = nullptr;
  std::atomic<bool> stop_{false};
  std::thread poller_;
};

}  // namespace netlens
