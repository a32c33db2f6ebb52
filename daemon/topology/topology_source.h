// The service map source: the tcp source hands it every snapshot (live connections, closed ones
// drained from tcp_closed, the totals with connect failures); it pairs the ends of local
// connections (end_matcher.h), names both ends (workload.h) and renders one series per edge
// and family, netlens_service_map_*, held to the series budget (an "other" edge beyond it).
//
// Edge labels: client, client_kind, server, server_kind, server_port, reporter. reporter is
// "server" for every edge whose server is on this host (its client named when on this host
// too), "client" for an edge whose server is not (or is not watched): so each connection is
// counted once per host, and across a fleet a connection between two netlens hosts is counted
// by both, once as each (docs/metrics.md, "Service map", for the PromQL that joins and dedups).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "bpf/kernel_snapshot.h"
#include "config/config.h"
#include "metrics/counter_ledger.h"
#include "metrics/metric_source.h"
#include "topology/end_matcher.h"
#include "topology/workload.h"

namespace netlens::topology {

struct TopologySettings {
  ServiceMapConfig service_map;
  LabelSettings labels;                      // services rules and metadata bounds (workload.h)
  size_t series_budget = 10000;              // edges, "other" included (limits.series_per_family)
  std::chrono::seconds idle_retention{300};  // an edge without connections goes after this
  std::string proc_root = "/proc";
};

// connections_opened, connect_failures, bytes client->server, bytes server->client,
// retransmits
using EdgeLedger = CounterLedger<5>;

class TopologySource : public MetricSource {
 public:
  explicit TopologySource(const TopologySettings& settings);

  const char* name() const override { return "topology"; }
  // A tcp snapshot after its targets settled; called by the tcp source at every refresh and
  // scrape, before this source's Collect in the same scrape.
  void Observe(const KernelSnapshot& snapshot, SteadyClock::time_point now = SteadyClock::now());
  // Closed connections the tcp source drained between snapshots.
  void ObserveClosed(const std::vector<std::pair<nl_closed_key, nl_conn>>& closed,
                     SteadyClock::time_point now = SteadyClock::now());
  void Collect(SourceOutput out) override;

  const EdgeLedger& edges() const { return ledger_; }
  static const std::vector<std::string>& LabelNames();

 private:
  // What a unit feeds, worked out when it is first shown: its ledger id and edge labels (its
  // ends' names are read once per connection, not per snapshot).
  struct UnitSeries {
    std::string id;
    SeriesRef edge;
  };
  // A full snapshot, or the closed connections of a drain (partial).
  void ObserveLocked(const KernelSnapshot& snapshot, SteadyClock::time_point now, bool full);
  const UnitSeries& SeriesOf(const EdgeUnit& unit, SteadyClock::time_point now,
                             std::map<std::pair<uint64_t, uint64_t>, UnitSeries>& next);

  std::mutex mutex_;
  TopologySettings settings_;
  // The units shown by the last Observe; rebuilt each time from those shown, so it holds no
  // more than the matcher's changed units.
  std::map<std::pair<uint64_t, uint64_t>, UnitSeries> unit_series_;
  KernelSnapshot drained_;  // a drain's closed connections as a partial snapshot, reused
  EndMatcher matcher_;
  WorkloadNamer namer_;
  EdgeLedger ledger_;
};

}  // namespace netlens::topology
