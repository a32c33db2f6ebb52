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
//
// Requests per edge (netlens_service_map_requests_total, ..._request_errors_total,
// ..._request_duration_seconds, by protocol): the HTTP source hands over each exchange
// (ObserveRequest), with the connection as its process sees it; it is matched to its unit by the
// client end's five-tuple once a snapshot has shown that unit, and counted once: by the server
// end where the server's traffic is parsed (SetParsedProcesses), else by the client end. An
// exchange whose unit no snapshot shows within kRequestWaitUpdates full updates, or beyond
// kMaxPendingRequests waiting, is counted as unattributed.
#pragma once

#include <array>
#include <chrono>
#include <compare>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "bpf/kernel_snapshot.h"
#include "config/config.h"
#include "http/http_aggregator.h"  // DurationHistogram
#include "http/http_source.h"      // ExchangeSummary
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
  LatencyBuckets latency_buckets;            // the request duration histograms' bounds
  std::string proc_root = "/proc";
};

// connections_opened, connect_failures, bytes client->server, bytes server->client,
// retransmits
using EdgeLedger = CounterLedger<5>;

inline constexpr size_t kMaxPendingRequests = 65536;
inline constexpr uint64_t kRequestWaitUpdates = 3;
inline constexpr uint64_t kKeepTupleUpdates = 3;  // a closed unit's tuple is kept this long
// Connections held for attributing requests (only while the HTTP source parses: parsed_ set);
// beyond, a new connection is not held (counted) and its exchanges end as no_connection.
inline constexpr size_t kMaxRequestTuples = 65536;

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
  // An exchange the HTTP source completed (any thread); attributed at the next Observe.
  void ObserveRequest(const http::ExchangeSummary& exchange);
  // Which processes' traffic the HTTP source parses (for the one-count rule above).
  void SetParsedProcesses(std::function<bool(uint32_t pid)> parsed);
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

  // The client end's five-tuple: local = the client's address and port.
  struct ClientTuple {
    std::array<uint8_t, 16> client{}, server{};
    uint16_t client_port = 0, server_port = 0;
    auto operator<=>(const ClientTuple&) const = default;
  };
  struct TupleEdge {
    std::vector<std::string> edge;  // the unit's edge labels
    uint32_t server_pid = 0;        // 0: the server is not on this host
    uint64_t seen_update = 0;       // the full update that last showed the unit
  };
  struct PendingRequest {
    http::ExchangeSummary exchange;
    uint64_t queued_update = 0;
  };
  struct EdgeRequests {
    uint64_t requests = 0, errors = 0;
    http::DurationHistogram duration;
  };
  void NoteTuple(const EdgeUnit& unit, const SeriesRef& edge);
  void AttributeRequestsLocked(bool full);
  void AppendRequestFamilies(SourceOutput& out) const;

  std::mutex mutex_;
  TopologySettings settings_;
  std::map<ClientTuple, TupleEdge> tuples_;
  // (edge labels, protocol) -> requests; at most series_budget keys, "other" included.
  std::map<std::vector<std::string>, EdgeRequests> requests_;
  std::set<std::vector<std::string>> requests_folded_;
  uint64_t full_updates_ = 0;
  uint64_t unattributed_waited_ = 0, unattributed_queue_full_ = 0;
  uint64_t tuples_dropped_ = 0;  // connections not held: tuples_ had kMaxRequestTuples
  std::function<bool(uint32_t)> parsed_;
  std::deque<PendingRequest> waiting_;  // under mutex_
  mutable std::mutex incoming_mutex_;
  std::vector<http::ExchangeSummary> incoming_;  // under incoming_mutex_
  // The units shown by the last Observe; rebuilt each time from those shown, so it holds no
  // more than the matcher's changed units.
  std::map<std::pair<uint64_t, uint64_t>, UnitSeries> unit_series_;
  KernelSnapshot drained_;  // a drain's closed connections as a partial snapshot, reused
  EndMatcher matcher_;
  WorkloadNamer namer_;
  EdgeLedger ledger_;
};

}  // namespace netlens::topology
