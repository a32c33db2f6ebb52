#include "topology/topology_source.h"

#include <algorithm>
#include <cstdio>

#include "metrics/histogram_render.h"
#include "metrics/labels.h"
#include "metrics/metric_builder.h"
#include "metrics/metric_names.h"

namespace netlens::topology {
namespace {

enum SourceKind { kUnits = 0, kFailures = 1 };
enum Counter { kOpened = 0, kFailed, kClientBytes, kServerBytes, kRetransmits };

std::string Hex(const void* data, size_t size) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    const uint8_t byte = static_cast<const uint8_t*>(data)[i];
    out += kDigits[byte >> 4];
    out += kDigits[byte & 15];
  }
  return out;
}

SeriesRef EdgeRef(const EndName& client, const EndName& server, uint16_t server_port,
                  const char* reporter) {
  SeriesRef ref;
  ref.labels = {client.name, client.kind, server.name, server.kind, std::to_string(server_port),
                reporter};
  return ref;
}

}  // namespace

const std::vector<std::string>& TopologySource::LabelNames() {
  static const std::vector<std::string> kNames = {"client",      "client_kind", "server",
                                                  "server_kind", "server_port", "reporter"};
  return kNames;
}

TopologySource::TopologySource(const TopologySettings& settings)
    : settings_(settings),
      namer_(settings.labels, settings.service_map.remote_names, settings.proc_root),
      ledger_(LabelNames().size(), settings.series_budget, {kOpened, kFailed}) {}

const TopologySource::UnitSeries& TopologySource::SeriesOf(
    const EdgeUnit& unit, SteadyClock::time_point now,
    std::map<std::pair<uint64_t, uint64_t>, UnitSeries>& next) {
  if (auto known = unit_series_.find(unit.id); known != unit_series_.end()) {
    if (&next == &unit_series_) return known->second;
    return next.emplace(unit.id, std::move(known->second)).first->second;
  }
  const nl_conn* client = unit.client;
  const nl_conn* server = unit.server;
  // The server end names the port; a client end alone, its remote port.
  const uint16_t port = server ? server->tuple.local_port : client->tuple.remote_port;
  const EndName client_name = client
                                  ? namer_.Process(client->pid, client->start_time,
                                                   CommLabel(client->comm), client->netns, 0, now)
                                  : namer_.Remote(server->tuple.remote_addr);
  const EndName server_name =
      server ? namer_.Process(server->pid, server->start_time, CommLabel(server->comm),
                              server->netns, port, now)
             : namer_.Remote(client->tuple.remote_addr);
  UnitSeries series{.id = "u" + Hex(&unit.id, sizeof(unit.id)),
                    .edge = EdgeRef(client_name, server_name, port, server ? "server" : "client")};
  return next.emplace(unit.id, std::move(series)).first->second;
}

void TopologySource::Observe(const KernelSnapshot& snapshot, SteadyClock::time_point now) {
  std::lock_guard lock(mutex_);
  ObserveLocked(snapshot, now, /*full=*/true);
}

void TopologySource::ObserveClosed(const std::vector<std::pair<nl_closed_key, nl_conn>>& closed,
                                   SteadyClock::time_point now) {
  std::lock_guard lock(mutex_);
  drained_.closed = closed;
  ObserveLocked(drained_, now, /*full=*/false);
}

// A partial pass observes the closed units it completes and sweeps nothing: the open units,
// not shown in it, must keep their sources until the next full pass observes them again.
void TopologySource::ObserveLocked(const KernelSnapshot& snapshot, SteadyClock::time_point now,
                                   bool full) {
  matcher_.Update(snapshot, now, full);
  if (full) {
    ledger_.BeginScrape();
    ++full_updates_;
  }
  // A full pass keeps the series of the units it shows; a partial one adds to them.
  std::map<std::pair<uint64_t, uint64_t>, UnitSeries> shown;
  auto& next = full ? shown : unit_series_;
  for (const EdgeUnit& unit : matcher_.TakeUnits(/*with_open=*/full)) {
    const nl_conn* client = unit.client;
    const nl_conn* server = unit.server;
    // The reporting end's counters: the server's when it is on this host.
    EdgeLedger::Counters counters{};
    counters[kOpened] = 1;
    if (server) {
      counters[kClientBytes] = server->traffic.bytes_received;
      counters[kServerBytes] = server->traffic.bytes_sent;
    } else {
      counters[kClientBytes] = client->traffic.bytes_sent;
      counters[kServerBytes] = client->traffic.bytes_received;
    }
    counters[kRetransmits] =
        (server ? server->traffic.retransmits : 0) + (client ? client->traffic.retransmits : 0);
    const UnitSeries& series = SeriesOf(unit, now, next);
    ledger_.Observe(series.id, kUnits, series.edge, nullptr, counters, now);
    if (parsed_) NoteTuple(unit, series.edge);  // only where requests are attributed
  }
  AttributeRequestsLocked(full);
  if (!full) return;
  unit_series_.swap(shown);
  // Connects that failed have no server end: they are in the client's totals.
  for (const auto& [key, value] : snapshot.totals) {
    if (key.pid == 0 || key.direction != NL_DIR_ACTIVE) continue;
    uint64_t failures = 0;
    for (uint64_t reason : value.connect_failures) failures += reason;
    if (failures == 0) continue;
    EdgeLedger::Counters counters{};
    counters[kFailed] = failures;
    const EndName client =
        namer_.Process(key.pid, key.start_time, CommLabel(key.comm), key.netns, 0, now);
    ledger_.Observe("f" + Hex(&key, sizeof(key)), kFailures,
                    EdgeRef(client, namer_.Remote(key.remote_addr), key.service_port, "client"),
                    nullptr, counters, now);
  }
  ledger_.Sweep(kUnits, now);
  ledger_.Sweep(kFailures, now);
  ledger_.EndScrape(now);
  ledger_.ExpireIdle(settings_.idle_retention, now);
}

void TopologySource::NoteTuple(const EdgeUnit& unit, const SeriesRef& edge) {
  ClientTuple key;
  if (const nl_conn* client = unit.client) {
    std::copy_n(client->tuple.local_addr, 16, key.client.begin());
    std::copy_n(client->tuple.remote_addr, 16, key.server.begin());
    key.client_port = client->tuple.local_port;
    key.server_port = client->tuple.remote_port;
  } else {
    const nl_conn* server = unit.server;
    std::copy_n(server->tuple.remote_addr, 16, key.client.begin());
    std::copy_n(server->tuple.local_addr, 16, key.server.begin());
    key.client_port = server->tuple.remote_port;
    key.server_port = server->tuple.local_port;
  }
  auto it = tuples_.find(key);
  if (it == tuples_.end()) {
    if (tuples_.size() >= kMaxRequestTuples) {
      ++tuples_dropped_;
      return;
    }
    it = tuples_.try_emplace(key).first;
  }
  it->second = TupleEdge{edge.labels, unit.server ? unit.server->pid : 0, full_updates_};
}

void TopologySource::ObserveRequest(const http::ExchangeSummary& exchange) {
  std::lock_guard lock(incoming_mutex_);
  if (incoming_.size() >= kMaxPendingRequests) {
    ++unattributed_queue_full_;
    return;
  }
  incoming_.push_back(exchange);
}

void TopologySource::SetParsedProcesses(std::function<bool(uint32_t pid)> parsed) {
  std::lock_guard lock(mutex_);
  parsed_ = std::move(parsed);
}

void TopologySource::AttributeRequestsLocked(bool full) {
  {
    std::lock_guard lock(incoming_mutex_);
    for (const http::ExchangeSummary& exchange : incoming_) {
      if (waiting_.size() >= kMaxPendingRequests) {
        ++unattributed_queue_full_;
        continue;
      }
      waiting_.push_back({exchange, full_updates_});
    }
    incoming_.clear();
  }
  std::deque<PendingRequest> still;
  for (PendingRequest& pending : waiting_) {
    const http::ExchangeSummary& e = pending.exchange;
    const bool client_side = e.role == http::Role::kClient;
    const http::Endpoint& client = client_side ? e.local : e.remote;
    const http::Endpoint& server = client_side ? e.remote : e.local;
    const auto it = tuples_.find({client.address, server.address, client.port, server.port});
    if (it == tuples_.end()) {
      if (full && full_updates_ - pending.queued_update >= kRequestWaitUpdates) {
        ++unattributed_waited_;
      } else {
        still.push_back(std::move(pending));
      }
      continue;
    }
    // Once per exchange: the server end's, unless the server's traffic is not parsed (or is
    // not on this host), then the client end's.
    const uint32_t server_pid = it->second.server_pid;
    const bool server_parsed = server_pid != 0 && (!parsed_ || parsed_(server_pid));
    if (client_side == server_parsed) continue;  // the other end counts it
    std::vector<std::string> key = it->second.edge;
    key.push_back(e.protocol);
    auto found = requests_.find(key);
    if (found == requests_.end()) {
      if (requests_.size() + 1 >= settings_.series_budget) {
        if (requests_folded_.size() < kMaxFoldedKeysCounted) requests_folded_.insert(key);
        key.assign(LabelNames().size(), "other");
        key.push_back(e.protocol);
      }
      found = requests_.try_emplace(std::move(key)).first;
    }
    EdgeRequests& edge = found->second;
    ++edge.requests;
    if (e.error) ++edge.errors;
    edge.duration.Add(e.duration_ns);
  }
  waiting_.swap(still);
  if (!full) return;
  std::erase_if(tuples_, [&](const auto& entry) {
    return entry.second.seen_update + kKeepTupleUpdates < full_updates_;
  });
}

void TopologySource::AppendRequestFamilies(SourceOutput& out) const {
  std::vector<std::string> names = LabelNames();
  names.push_back("protocol");
  MetricBuilder requests(metric_name::kServiceMapRequestsTotal,
                         "Requests on the edge the HTTP, gRPC and MySQL parsers completed, counted "
                         "once: by the server end where its traffic is parsed, else by the "
                         "client end.",
                         prometheus::MetricType::Counter);
  MetricBuilder errors(metric_name::kServiceMapRequestErrorsTotal,
                       "Of those, the failed ones: an HTTP 5xx status, a MySQL ERR packet.",
                       prometheus::MetricType::Counter);
  prometheus::MetricFamily duration;
  duration.name = std::string(metric_name::kServiceMapRequestDurationSeconds);
  duration.help =
      "Duration of the edge's requests as their parser measured them (docs/metrics.md, "
      "\"HTTP requests\", \"MySQL requests\").";
  duration.type = prometheus::MetricType::Histogram;
  const ShownBuckets shown = ShownBucketsOf(settings_.latency_buckets);
  for (const auto& [key, edge] : requests_) {
    requests.Add(names, key, static_cast<double>(edge.requests));
    errors.Add(names, key, static_cast<double>(edge.errors));
    prometheus::ClientMetric metric;
    for (size_t i = 0; i < names.size(); ++i) metric.label.push_back({names[i], key[i]});
    metric.histogram = RenderHistogram(edge.duration.buckets, edge.duration.sum_ns, shown);
    duration.metric.push_back(std::move(metric));
  }
  for (const std::string_view name :
       {metric_name::kServiceMapRequestsTotal, metric_name::kServiceMapRequestErrorsTotal,
        metric_name::kServiceMapRequestDurationSeconds}) {
    out.budgets.push_back({std::string(name), requests_folded_.size()});
  }
  out.families.push_back(requests.Take());
  out.families.push_back(errors.Take());
  out.families.push_back(std::move(duration));
  MetricBuilder unattributed(metric_name::kServiceMapRequestsUnattributedTotal,
                             "Exchanges the parsers completed that no edge took: no snapshot "
                             "showed their connection within 3 refreshes (no_connection: an "
                             "end not watched by the tcp source, NAT), or the queue was full.",
                             prometheus::MetricType::Counter);
  unattributed.Add({"reason"}, {"no_connection"}, static_cast<double>(unattributed_waited_));
  {
    std::lock_guard lock(incoming_mutex_);
    unattributed.Add({"reason"}, {"queue_full"}, static_cast<double>(unattributed_queue_full_));
  }
  out.families.push_back(unattributed.Take());
  MetricBuilder held(metric_name::kServiceMapRequestConnections,
                     "Connections the service map holds to attribute requests to their edge "
                     "(open ones, and closed ones for 3 refreshes; at most 65,536).",
                     prometheus::MetricType::Gauge);
  held.Add({}, {}, static_cast<double>(tuples_.size()));
  out.families.push_back(held.Take());
  MetricBuilder dropped(metric_name::kServiceMapRequestConnectionsDroppedTotal,
                        "Connections not held to attribute requests: 65,536 were already (their "
                        "exchanges count as unattributed, no_connection).",
                        prometheus::MetricType::Counter);
  dropped.Add({}, {}, static_cast<double>(tuples_dropped_));
  out.families.push_back(dropped.Take());
}

void TopologySource::Collect(SourceOutput out) {
  std::lock_guard lock(mutex_);
  std::vector<const EdgeLedger::Series*> series;
  for (const auto& [key, entry] : ledger_.series()) series.push_back(&entry);
  std::sort(series.begin(), series.end(), [](auto* a, auto* b) { return a->labels < b->labels; });
  const std::vector<std::string>& names = LabelNames();
  auto counter = [&](std::string_view name, const char* help, Counter index) {
    MetricBuilder family(name, help, prometheus::MetricType::Counter);
    family.Reserve(series.size());
    for (const auto* s : series) family.Add(names, s->labels, static_cast<double>(s->value[index]));
    out.families.push_back(family.Take());
    out.budgets.push_back({std::string(name), ledger_.folded_keys()});
  };
  counter(metric_name::kServiceMapConnectionsOpenedTotal,
          "Connections established on the edge (counted by the reporting end).", kOpened);
  counter(metric_name::kServiceMapConnectFailuresTotal,
          "Connects of the client that failed (refused, timed out, reset, unreachable, aborted).",
          kFailed);
  {
    MetricBuilder family(metric_name::kServiceMapBytesTotal,
                         "TCP payload bytes on the edge, by direction, as the reporting end's "
                         "socket counted them.",
                         prometheus::MetricType::Counter);
    std::vector<std::string> with_direction = names;
    with_direction.push_back("direction");
    family.Reserve(2 * series.size());
    for (const auto* s : series) {
      std::vector<std::string> values = s->labels;
      values.push_back("client_to_server");
      family.Add(with_direction, values, static_cast<double>(s->value[kClientBytes]));
      values.back() = "server_to_client";
      family.Add(with_direction, values, static_cast<double>(s->value[kServerBytes]));
    }
    out.families.push_back(family.Take());
    out.budgets.push_back({std::string(metric_name::kServiceMapBytesTotal), ledger_.folded_keys()});
  }
  counter(metric_name::kServiceMapRetransmitsTotal,
          "TCP segments retransmitted by the edge's ends on this host.", kRetransmits);

  MetricBuilder ends(metric_name::kServiceMapEnds,
                     "Connection ends the service map holds (live, or closed in the last 30 s).",
                     prometheus::MetricType::Gauge);
  ends.Add({}, {}, static_cast<double>(matcher_.ends()));
  out.families.push_back(ends.Take());
  MetricBuilder outcomes(metric_name::kServiceMapEndsTotal,
                         "Connection ends by what became of them beyond pairing: late (matched "
                         "to a peer on this host already counted alone; not counted again), "
                         "skipped (direction unknown and no peer; not counted), vanished (left "
                         "tcp_conns without a tcp_closed record; counted with what was last "
                         "read of them).",
                         prometheus::MetricType::Counter);
  outcomes.Add({"outcome"}, {"late"}, static_cast<double>(matcher_.late_pairs()));
  outcomes.Add({"outcome"}, {"skipped"}, static_cast<double>(matcher_.skipped()));
  outcomes.Add({"outcome"}, {"vanished"}, static_cast<double>(matcher_.vanished()));
  out.families.push_back(outcomes.Take());
  AppendRequestFamilies(out);
}

}  // namespace netlens::topology
