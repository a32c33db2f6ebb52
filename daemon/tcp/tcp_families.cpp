#include "tcp/tcp_families.h"

#include <algorithm>

#include "metrics/histogram_render.h"
#include "metrics/labels.h"
#include "metrics/metric_builder.h"
#include "metrics/metric_names.h"

namespace netlens {
namespace {

// In the order of TrafficLedger's values. help_kernel: the same family under kernel
// accounting, or nullptr where only per-event accounting has it (call counts).
struct TrafficFamily {
  std::string_view name;
  const char* help_events;
  const char* help_kernel;
};
constexpr TrafficFamily kTrafficFamilies[] = {
    {metric_name::kTcpSentBytesTotal, "TCP payload bytes sent by successful send calls.",
     "TCP payload bytes transmitted at least once (the socket's bytes_sent - bytes_retrans)."},
    {metric_name::kTcpReceivedBytesTotal,
     "TCP payload bytes received by successful receive calls (MSG_PEEK excluded).",
     "TCP payload bytes received in order (the socket's bytes_received, FIN excluded), read by "
     "the application or not."},
    {metric_name::kTcpSendCallsTotal, "Send calls that moved at least one byte.", nullptr},
    {metric_name::kTcpReceiveCallsTotal,
     "Receive calls that moved at least one byte (MSG_PEEK excluded).", nullptr},
    {metric_name::kTcpRetransmitsTotal, "Retransmitted TCP segments (skbs).",
     "Retransmitted TCP segments (the socket's total_retrans)."},
};

bool KernelAccounting(const Aggregator& aggregator) {
  return aggregator.settings().accounting == "kernel";
}

constexpr const char* kFailureReasons[NL_FAIL_REASONS] = {"refused",     "timeout", "reset",
                                                          "unreachable", "aborted", "other"};

struct LatencyFamily {
  std::string_view name;
  const char* help;
};
constexpr LatencyFamily kLatencyFamilies[NL_HIST_KINDS] = {
    {metric_name::kTcpRttSeconds,
     "Smoothed round-trip time (srtt), sampled on the first receive of a connection and every "
     "16th after (accounting: events), or per live connection at each scrape and at close "
     "(accounting: kernel)."},
    {metric_name::kTcpConnectDurationSeconds, "Time from SYN_SENT to ESTABLISHED of connects."},
    {metric_name::kTcpConnectionDurationSeconds, "Lifetime of connections, ESTABLISHED to CLOSE."},
    {metric_name::kTcpResponseTimeSeconds,
     "As a server (direction passive): first byte of a request read to first byte of the "
     "response written; as a client (active): last byte written to first byte read back."},
    {metric_name::kTcpAcceptDurationSeconds,
     "Time from an accepted connection's handshake completing (it enters the accept queue) to "
     "accept() returning it."},
};

// Ledger series sorted by labels, so the output is stable between scrapes.
template <typename Ledger>
std::vector<const typename Ledger::Series*> Sorted(const Ledger& ledger) {
  std::vector<const typename Ledger::Series*> out;
  for (const auto& [key, series] : ledger.series()) out.push_back(&series);
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->labels < b->labels; });
  return out;
}

void AppendTraffic(const Aggregator& aggregator, std::vector<prometheus::MetricFamily>& out) {
  const auto& names = aggregator.traffic_labels();
  const auto series = Sorted(aggregator.traffic());
  const bool kernel = KernelAccounting(aggregator);
  for (size_t i = 0; i < std::size(kTrafficFamilies); ++i) {
    if (kernel && !kTrafficFamilies[i].help_kernel) continue;
    MetricBuilder family(kTrafficFamilies[i].name,
                         kernel ? kTrafficFamilies[i].help_kernel : kTrafficFamilies[i].help_events,
                         prometheus::MetricType::Counter);
    family.Reserve(series.size());
    for (const auto* s : series) family.Add(names, s->labels, static_cast<double>(s->value[i]));
    out.push_back(family.Take());
  }
}

void AppendConnections(const Aggregator& aggregator, std::vector<prometheus::MetricFamily>& out) {
  const auto& names = aggregator.connection_labels();
  const auto series = Sorted(aggregator.connections());
  MetricBuilder opened(metric_name::kTcpConnectionsOpenedTotal,
                       "TCP connections that reached ESTABLISHED.",
                       prometheus::MetricType::Counter);
  MetricBuilder closed(metric_name::kTcpConnectionsClosedTotal,
                       "Established TCP connections that closed.", prometheus::MetricType::Counter);
  MetricBuilder failures(metric_name::kTcpConnectFailuresTotal,
                         "Connects that closed before reaching ESTABLISHED, by reason.",
                         prometheus::MetricType::Counter);
  std::vector<std::string> failure_names = names;
  failure_names.push_back("reason");
  MetricBuilder open(metric_name::kTcpConnectionsOpen, "Established TCP connections open now.",
                     prometheus::MetricType::Gauge);
  // Open connections of keys folded into the overflow series count there.
  uint64_t folded_open = 0;
  for (const auto& [labels, count] : aggregator.open_connections()) {
    if (!aggregator.connections().series().count(SeriesKeyOf(labels))) folded_open += count;
  }
  for (const auto* s : series) {
    opened.Add(names, s->labels, static_cast<double>(s->value[0]));
    closed.Add(names, s->labels, static_cast<double>(s->value[1]));
    for (uint32_t reason = 0; reason < NL_FAIL_REASONS; ++reason) {
      const uint64_t count = s->value[2 + reason];
      if (count == 0) continue;
      std::vector<std::string> labels = s->labels;
      labels.push_back(kFailureReasons[reason]);
      failures.Add(failure_names, labels, static_cast<double>(count));
    }
    const auto it = aggregator.open_connections().find(s->labels);
    uint64_t now_open = it == aggregator.open_connections().end() ? 0 : it->second;
    if (std::all_of(s->labels.begin(), s->labels.end(), [](auto& v) { return v == "other"; }))
      now_open += folded_open;
    open.Add(names, s->labels, static_cast<double>(now_open));
  }
  for (MetricBuilder* family : {&opened, &closed, &failures, &open}) out.push_back(family->Take());

  MetricBuilder transitions(metric_name::kTcpStateTransitionsTotal,
                            "TCP state changes on this host (sock:inet_sock_set_state).",
                            prometheus::MetricType::Counter);
  const auto& counts = aggregator.transitions();
  for (unsigned slot = 0; slot < counts.size(); ++slot) {
    if (counts[slot] == 0) continue;
    transitions.Add(
        {"from_state", "to_state"},
        {TcpStateName(slot / NL_TCP_STATE_SLOTS), TcpStateName(slot % NL_TCP_STATE_SLOTS)},
        static_cast<double>(counts[slot]));
  }
  out.push_back(transitions.Take());
}

// Response times come from the order of send and receive calls: per-event accounting only.
bool LatencyKindShown(const Aggregator& aggregator, uint32_t kind) {
  return kind != NL_HIST_RESPONSE || !KernelAccounting(aggregator);
}

void AppendLatency(const Aggregator& aggregator, std::vector<prometheus::MetricFamily>& out) {
  const auto& names = aggregator.connection_labels();
  const ShownBuckets shown = ShownBucketsOf(aggregator.settings().latency_buckets);
  for (uint32_t kind = 0; kind < NL_HIST_KINDS; ++kind) {
    if (!LatencyKindShown(aggregator, kind)) continue;
    prometheus::MetricFamily family;
    family.name = std::string(kLatencyFamilies[kind].name);
    family.help = kLatencyFamilies[kind].help;
    family.type = prometheus::MetricType::Histogram;
    for (const auto* s : Sorted(aggregator.latency(kind))) {
      prometheus::ClientMetric metric;
      metric.label.reserve(names.size());
      for (size_t i = 0; i < names.size(); ++i) metric.label.push_back({names[i], s->labels[i]});
      metric.histogram = RenderHistogram(
          std::span<const uint64_t, NL_HIST_BUCKETS>(s->value.data(), NL_HIST_BUCKETS),
          s->value[NL_HIST_BUCKETS], shown);
      family.metric.push_back(std::move(metric));
    }
    out.push_back(std::move(family));
  }
}

}  // namespace

void AppendTcpFamilies(const Aggregator& aggregator, std::vector<prometheus::MetricFamily>& out) {
  AppendTraffic(aggregator, out);
  AppendConnections(aggregator, out);
  AppendLatency(aggregator, out);
}

// Per connection and process series are budgeted; host-wide families (state transitions,
// listen queues) are not.
void DeclareTcpBudgets(const Aggregator& aggregator, std::vector<SeriesBudgetUse>& budgets) {
  for (const auto& family : kTrafficFamilies) {
    if (KernelAccounting(aggregator) && !family.help_kernel) continue;
    budgets.push_back({std::string(family.name), aggregator.traffic().folded_keys()});
  }
  for (std::string_view family :
       {metric_name::kTcpConnectionsOpenedTotal, metric_name::kTcpConnectionsClosedTotal,
        metric_name::kTcpConnectFailuresTotal, metric_name::kTcpConnectionsOpen})
    budgets.push_back({std::string(family), aggregator.connections().folded_keys()});
  for (uint32_t kind = 0; kind < NL_HIST_KINDS; ++kind) {
    if (!LatencyKindShown(aggregator, kind)) continue;
    budgets.push_back(
        {std::string(kLatencyFamilies[kind].name), aggregator.latency(kind).folded_keys()});
  }
}

}  // namespace netlens
