// Kernel snapshot -> series at the configured level (process, remote, connection).
#pragma once

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "bpf/kernel_snapshot.h"
#include "config/config.h"
#include "metrics/counter_ledger.h"
#include "process/process_labels.h"

namespace netlens {

struct AggregatorSettings {
  Level level = Level::kRemote;
  size_t series_budget = 10000;
  std::chrono::seconds process_ttl{300};
  std::chrono::seconds closed_retention{300};
  LatencyBuckets latency_buckets;  // rendering only: which bucket bounds /metrics shows
  LabelSettings labels;
  std::string proc_root = "/proc";  // where process metadata is read (tests point elsewhere)
  CgroupOfProcess cgroup_of{};      // cgroups of processes gone before /proc was read
  // Rendering only: "kernel" accounting has no call counts and no response times (the
  // Tracer's accounting(), which may differ from the config's after a fallback).
  std::string accounting = "kernel";
};

// bytes_sent, bytes_received, send_calls, receive_calls, retransmits
using TrafficLedger = CounterLedger<5>;
// connections_opened, connections_closed, connect_failures[NL_FAIL_REASONS]
using ConnectionLedger = CounterLedger<2 + NL_FAIL_REASONS>;
// buckets[NL_HIST_BUCKETS] (not cumulative), sum_ns, count
using HistogramLedger = CounterLedger<NL_HIST_BUCKETS + 2>;

// Returns the start time (clock ticks since boot, /proc/PID/stat field 22) of the
// process running under pid, or nothing when no process has the pid.
using ProcessLookup = std::function<std::optional<uint64_t>(uint32_t pid)>;

class Aggregator {
 public:
  explicit Aggregator(const AggregatorSettings& settings);

  // A new level or label set starts the series afresh; budgets and durations apply at once.
  void Reconfigure(const AggregatorSettings& settings);
  void Update(const KernelSnapshot& snapshot, SteadyClock::time_point now);
  // Forgets processes (pid, start time) gone, and without live connections, for
  // process_ttl and shown by a scrape since they were found gone (NoteShown); returns the keys
  // the kernel should delete.
  struct Expired {
    std::vector<nl_agg_key> totals;
    std::vector<nl_hist_key> latency;
  };
  Expired CollectGarbage(SteadyClock::time_point now, const ProcessLookup& lookup);
  // A scrape has rendered the series: processes found gone before it may expire now. Without
  // this a series made and found gone between scrapes could expire before any scrape showed it.
  void NoteShown();

  const AggregatorSettings& settings() const { return settings_; }
  const std::vector<std::string>& traffic_labels() const { return traffic_labels_; }
  const std::vector<std::string>& connection_labels() const { return connection_labels_; }
  const TrafficLedger& traffic() const { return traffic_; }
  const ConnectionLedger& connections() const { return connections_; }
  // Latency histograms by enum nl_hist_kind, with the connection labels.
  const HistogramLedger& latency(uint32_t kind) const { return latency_[kind]; }
  // Established connections open now, by connection-label values.
  const std::map<std::vector<std::string>, uint64_t>& open_connections() const { return open_; }
  // Host-wide counters of the last snapshot.
  const std::array<uint64_t, NL_STAT_MAX>& kernel_stats() const { return stats_; }
  const std::array<uint64_t, NL_TCP_STATE_SLOTS * NL_TCP_STATE_SLOTS>& transitions() const {
    return transitions_;
  }
  const ProcessLabels& process_labels() const { return *process_labels_; }

 private:
  SeriesRef TrafficRefOfConn(const nl_conn& conn) const;
  SeriesRef TrafficRefOfTotals(const nl_agg_key& key) const;
  SeriesRef ConnectionRef(const nl_agg_key& key) const;
  // The pid (when labels.pid) and comm labels of a ref.
  SeriesRef ProcessRef(uint32_t pid, const char comm[NL_COMM_LEN]) const;
  // Process identity of a ref, and the metadata labels after its own.
  void AddProcess(SeriesRef& ref, uint32_t pid, uint64_t start_time, uint32_t netns,
                  uint16_t service_port) const;

  AggregatorSettings settings_;
  std::unique_ptr<ProcessLabels> process_labels_;
  SteadyClock::time_point now_{};
  std::vector<std::string> traffic_labels_;
  std::vector<std::string> connection_labels_;
  TrafficLedger traffic_;
  ConnectionLedger connections_;
  std::array<HistogramLedger, NL_HIST_KINDS> latency_;
  std::map<std::vector<std::string>, uint64_t> open_;
  struct Gone {
    SteadyClock::time_point since;  // when first seen gone
    bool shown = false;             // a scrape rendered its series since
  };
  std::map<std::pair<uint32_t, uint64_t>, Gone> gone_since_;
  std::array<uint64_t, NL_STAT_MAX> stats_{};
  std::array<uint64_t, NL_TCP_STATE_SLOTS * NL_TCP_STATE_SLOTS> transitions_{};
  std::set<std::pair<uint32_t, uint64_t>> live_processes_;  // own a live connection
  std::vector<nl_agg_key> totals_keys_;                     // the kernel's totals keys, last seen
  std::vector<nl_hist_key> latency_keys_;                   // the kernel's latency keys, last seen
};

}  // namespace netlens
