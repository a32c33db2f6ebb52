#include "tcp/aggregator.h"

#include <cstring>
#include <set>
#include <utility>

#include "metrics/labels.h"

namespace netlens {
namespace {

enum SourceKind { kLiveConnection = 1, kTotals = 2, kClosedConnection = 3 };

// The labels before the metadata ones; without the pid label when labels.pid is off.
std::vector<std::string> ProcessLabelNames(std::vector<std::string> names, bool pid) {
  if (!pid) names.erase(names.begin());
  return names;
}

std::vector<std::string> TrafficLabelNames(Level level) {
  switch (level) {
    case Level::kProcess:
      return {"pid", "comm"};
    case Level::kRemote:
      return {"pid", "comm", "direction", "family", "remote_address", "service_port"};
    case Level::kConnection:
      return {"pid",           "comm",       "direction",      "family",
              "local_address", "local_port", "remote_address", "remote_port"};
  }
  return {};
}

// Connection counts are never broken down finer than the remote level.
std::vector<std::string> ConnectionLabelNames(Level level) {
  if (level == Level::kProcess) return {"pid", "comm", "direction"};
  return TrafficLabelNames(Level::kRemote);
}

uint16_t ServicePort(const nl_tuple& tuple, uint8_t direction) {
  if (direction == NL_DIR_ACTIVE) return tuple.remote_port;
  if (direction == NL_DIR_PASSIVE) return tuple.local_port;
  return std::min(tuple.local_port, tuple.remote_port);
}

std::string BytesId(char tag, const void* data, size_t size) {
  std::string id(1, tag);
  id.append(static_cast<const char*>(data), size);
  return id;
}

std::string ConnId(uint64_t sock, uint64_t open_ns) {
  const nl_closed_key key{sock, open_ns};
  return BytesId('c', &key, sizeof(key));
}

TrafficLedger::Counters TrafficCounters(const nl_traffic& t) {
  return {t.bytes_sent, t.bytes_received, t.send_calls, t.receive_calls, t.retransmits};
}

bool IsOverflowKey(const nl_agg_key& key) { return key.direction == NL_DIR_OVERFLOW; }

bool IsEmpty(const nl_agg_value& value) {
  static const nl_agg_value kZero{};
  return std::memcmp(&value, &kZero, sizeof(value)) == 0;
}

SeriesRef OtherRef(size_t label_count) {
  return {std::vector<std::string>(label_count, "other"), 0, "other"};
}

}  // namespace

template <typename Ledger, size_t... I>
std::array<Ledger, sizeof...(I)> MakeLedgers(size_t labels, size_t budget,
                                             const std::vector<size_t>& weights,
                                             std::index_sequence<I...>) {
  return {((void)I, Ledger(labels, budget, weights))...};
}

std::vector<std::string> Concat(std::vector<std::string> names,
                                const std::vector<std::string>& more) {
  names.insert(names.end(), more.begin(), more.end());
  return names;
}

// Top K ranks keys by bytes (traffic), connections and failures, samples (latency).
const std::vector<size_t> kTrafficWeights = {0, 1};
const std::vector<size_t> kHistogramWeights = {NL_HIST_BUCKETS + 1};

Aggregator::Aggregator(const AggregatorSettings& settings)
    : settings_(settings),
      process_labels_(
          std::make_unique<ProcessLabels>(settings.labels, settings.proc_root, settings.cgroup_of)),
      traffic_labels_(
          Concat(ProcessLabelNames(TrafficLabelNames(settings.level), settings.labels.pid),
                 process_labels_->names())),
      connection_labels_(
          Concat(ProcessLabelNames(ConnectionLabelNames(settings.level), settings.labels.pid),
                 process_labels_->names())),
      traffic_(traffic_labels_.size(), settings.series_budget, kTrafficWeights),
      connections_(connection_labels_.size(), settings.series_budget),
      latency_(MakeLedgers<HistogramLedger>(connection_labels_.size(), settings.series_budget,
                                            kHistogramWeights,
                                            std::make_index_sequence<NL_HIST_KINDS>())) {}

SeriesRef Aggregator::ProcessRef(uint32_t pid, const char comm[NL_COMM_LEN]) const {
  SeriesRef ref{{}, pid, CommLabel(comm)};
  if (settings_.labels.pid) ref.labels.push_back(std::to_string(pid));
  ref.labels.push_back(ref.comm);
  return ref;
}

void Aggregator::AddProcess(SeriesRef& ref, uint32_t pid, uint64_t start_time, uint32_t netns,
                            uint16_t service_port) const {
  process_labels_->Append({pid, start_time, netns, service_port, ref.comm}, ref.labels, now_);
  // Without the pid label a series is every such process's: it belongs to none of them.
  ref.shared = !settings_.labels.pid;
  ref.pid = ref.shared ? 0 : pid;
  ref.start_time = ref.shared ? 0 : start_time;
}

void Aggregator::Reconfigure(const AggregatorSettings& settings) {
  if (settings.level != settings_.level || !(settings.labels == settings_.labels) ||
      settings.proc_root != settings_.proc_root) {
    *this = Aggregator(settings);
    return;
  }
  settings_ = settings;
  traffic_.SetBudget(settings.series_budget);
  connections_.SetBudget(settings.series_budget);
  for (auto& ledger : latency_) ledger.SetBudget(settings.series_budget);
}

SeriesRef Aggregator::TrafficRefOfConn(const nl_conn& conn) const {
  const nl_tuple& t = conn.tuple;
  SeriesRef ref = ProcessRef(conn.pid, conn.comm);
  if (settings_.level != Level::kProcess) {
    ref.labels.push_back(DirectionLabel(conn.direction));
    ref.labels.push_back(FamilyLabel(t.remote_addr));
  }
  if (settings_.level == Level::kRemote) {
    ref.labels.push_back(AddressLabel(t.remote_addr));
    ref.labels.push_back(std::to_string(ServicePort(t, conn.direction)));
  } else if (settings_.level == Level::kConnection) {
    ref.labels.push_back(AddressLabel(t.local_addr));
    ref.labels.push_back(std::to_string(t.local_port));
    ref.labels.push_back(AddressLabel(t.remote_addr));
    ref.labels.push_back(std::to_string(t.remote_port));
  }
  AddProcess(ref, conn.pid, conn.start_time, conn.netns, ServicePort(t, conn.direction));
  return ref;
}

// At connection level a totals key has no local address; the service port is
// shown on the side it belongs to.
SeriesRef Aggregator::TrafficRefOfTotals(const nl_agg_key& key) const {
  if (IsOverflowKey(key)) return OtherRef(traffic_labels_.size());
  SeriesRef ref = ProcessRef(key.pid, key.comm);
  if (settings_.level != Level::kProcess) {
    ref.labels.push_back(DirectionLabel(key.direction));
    ref.labels.push_back(FamilyLabel(key.remote_addr));
  }
  if (settings_.level == Level::kRemote) {
    ref.labels.push_back(AddressLabel(key.remote_addr));
    ref.labels.push_back(std::to_string(key.service_port));
  } else if (settings_.level == Level::kConnection) {
    const std::string port = std::to_string(key.service_port);
    ref.labels.push_back("");
    ref.labels.push_back(key.direction == NL_DIR_PASSIVE ? port : "");
    ref.labels.push_back(AddressLabel(key.remote_addr));
    ref.labels.push_back(key.direction == NL_DIR_ACTIVE ? port : "");
  }
  AddProcess(ref, key.pid, key.start_time, key.netns, key.service_port);
  return ref;
}

SeriesRef Aggregator::ConnectionRef(const nl_agg_key& key) const {
  if (key.direction == NL_DIR_OVERFLOW) return OtherRef(connection_labels_.size());
  SeriesRef ref = ProcessRef(key.pid, key.comm);
  ref.labels.push_back(DirectionLabel(key.direction));
  if (settings_.level != Level::kProcess) {
    ref.labels.push_back(FamilyLabel(key.remote_addr));
    ref.labels.push_back(AddressLabel(key.remote_addr));
    ref.labels.push_back(std::to_string(key.service_port));
  }
  AddProcess(ref, key.pid, key.start_time, key.netns, key.service_port);
  return ref;
}

void Aggregator::Update(const KernelSnapshot& snapshot, SteadyClock::time_point now) {
  const bool connection_level = settings_.level == Level::kConnection;
  now_ = now;
  traffic_.BeginScrape();
  connections_.BeginScrape();
  for (auto& ledger : latency_) ledger.BeginScrape();
  open_.clear();

  // 1. Live connections. A connection that vanishes before the next scrape was
  //    folded by the kernel: into totals, or (connection level) into `closed`,
  //    or into the untracked part of totals when `closed` was full.
  for (const auto& [sock, conn] : snapshot.conns) {
    const std::string id = ConnId(sock, conn.open_ns);
    const SeriesRef target = TrafficRefOfConn(conn);
    nl_agg_key fold_key{};
    fold_key.pid = conn.pid;
    std::memcpy(fold_key.comm, conn.comm, NL_COMM_LEN);
    fold_key.direction = conn.direction;
    fold_key.service_port = ServicePort(conn.tuple, conn.direction);
    std::memcpy(fold_key.remote_addr, conn.tuple.remote_addr, 16);
    fold_key.start_time = conn.start_time;
    fold_key.netns = conn.netns;
    const SeriesRef fold = connection_level ? TrafficRefOfTotals(fold_key) : target;
    traffic_.Observe(id, kLiveConnection, target, &fold, TrafficCounters(conn.traffic), now);

    const SeriesRef counts = ConnectionRef(fold_key);
    if (conn.established) {
      connections_.Observe(id, kLiveConnection, counts, &counts, {1}, now);
      ++open_[counts.labels];
    }
  }
  // 2. Closed connections handed over at connection level: their final values.
  for (const auto& [key, conn] : snapshot.closed) {
    const std::string id = ConnId(key.sock, key.open_ns);
    traffic_.Observe(id, kClosedConnection, TrafficRefOfConn(conn), nullptr,
                     TrafficCounters(conn.traffic), now);
    traffic_.Retire(id);
  }
  // 3. Credit what vanished before totals pay it back.
  traffic_.Sweep(kLiveConnection, now);
  connections_.Sweep(kLiveConnection, now);

  // 4. Totals: closed connections and untracked events, per process and remote.
  for (const auto& [key, value] : snapshot.totals) {
    if (IsOverflowKey(key) && IsEmpty(value)) continue;  // no "other" series until needed
    const std::string id = BytesId('t', &key, sizeof(key));
    const nl_traffic& traffic = connection_level ? value.untracked : value.traffic;
    traffic_.Observe(id, kTotals, TrafficRefOfTotals(key), nullptr, TrafficCounters(traffic), now);
    ConnectionLedger::Counters counts{value.connections_opened, value.connections_closed};
    std::copy(std::begin(value.connect_failures), std::end(value.connect_failures),
              counts.begin() + 2);
    connections_.Observe(id, kTotals, ConnectionRef(key), nullptr, counts, now);
  }
  traffic_.Sweep(kTotals, now);
  connections_.Sweep(kTotals, now);

  // 5. Latency histograms: kept per key in the kernel, never folded.
  for (const auto& [key, hist] : snapshot.latency) {
    if (key.kind >= NL_HIST_KINDS || (key.agg.direction == NL_DIR_OVERFLOW && hist.count == 0))
      continue;
    HistogramLedger::Counters counts{};
    std::copy(std::begin(hist.buckets), std::end(hist.buckets), counts.begin());
    counts[NL_HIST_BUCKETS] = hist.sum_ns;
    counts[NL_HIST_BUCKETS + 1] = hist.count;
    latency_[key.kind].Observe(BytesId('h', &key, sizeof(key)), kTotals, ConnectionRef(key.agg),
                               nullptr, counts, now);
  }
  for (auto& ledger : latency_) ledger.Sweep(kTotals, now);
  traffic_.ExpireIdle(settings_.closed_retention, now);
  // Series without a pid label outlive their processes: kept process_ttl after the last one
  // was forgotten (at connection level, a closed connection's for closed_connection_retention).
  traffic_.ExpireOrphans(connection_level ? settings_.closed_retention : settings_.process_ttl,
                         now);
  connections_.ExpireOrphans(settings_.process_ttl, now);
  for (auto& ledger : latency_) ledger.ExpireOrphans(settings_.process_ttl, now);
  // 6. Top K by traffic: keys move between their own series and "other".
  traffic_.EndScrape(now);
  connections_.EndScrape(now);
  for (auto& ledger : latency_) ledger.EndScrape(now);

  stats_ = snapshot.stats;
  transitions_ = snapshot.transitions;
  live_processes_.clear();
  for (const auto& [sock, conn] : snapshot.conns)
    live_processes_.emplace(conn.pid, conn.start_time);
  totals_keys_.clear();
  for (const auto& [key, value] : snapshot.totals) totals_keys_.push_back(key);
  latency_keys_.clear();
  for (const auto& [key, value] : snapshot.latency) latency_keys_.push_back(key);
}

Aggregator::Expired Aggregator::CollectGarbage(SteadyClock::time_point now,
                                               const ProcessLookup& lookup) {
  // Processes with series, and with keys in the kernel (whose series a newer
  // process with the same pid may already have ended).
  std::set<std::pair<uint32_t, uint64_t>> owners;
  auto add_owners = [&](const auto& ledger) {
    for (const auto& [key, series] : ledger.series())
      if (series.pid != 0) owners.emplace(series.pid, series.start_time);
  };
  add_owners(traffic_);
  add_owners(connections_);
  for (const auto& ledger : latency_) add_owners(ledger);
  for (const auto& key : totals_keys_)
    if (key.pid != 0) owners.emplace(key.pid, key.start_time);
  for (const auto& key : latency_keys_)
    if (key.agg.pid != 0) owners.emplace(key.agg.pid, key.agg.start_time);

  // Processes past their TTL, dropped together (one pass per table, however many).
  std::set<std::pair<uint32_t, uint64_t>> expired_owners;
  for (const auto& owner : owners) {
    const auto [pid, start_time] = owner;
    const std::optional<uint64_t> running_start = lookup(pid);
    const bool running =
        (running_start && (start_time == 0 || *running_start == StartTimeTicks(start_time))) ||
        live_processes_.count(owner);
    if (running) {
      gone_since_.erase(owner);
      continue;
    }
    const auto [it, inserted] = gone_since_.try_emplace(owner, Gone{now});
    if (!it->second.shown || now - it->second.since < settings_.process_ttl) continue;
    expired_owners.insert(owner);
    gone_since_.erase(it);
  }
  std::erase_if(gone_since_, [&](const auto& entry) { return !owners.count(entry.first); });
  Expired expired;
  if (expired_owners.empty()) return expired;
  traffic_.DropProcesses(expired_owners);
  connections_.DropProcesses(expired_owners);
  for (auto& ledger : latency_) ledger.DropProcesses(expired_owners);
  for (const auto& [pid, start_time] : expired_owners) process_labels_->Forget(pid, start_time);
  for (const auto& key : totals_keys_) {
    if (expired_owners.count({key.pid, key.start_time})) expired.totals.push_back(key);
  }
  for (const auto& key : latency_keys_) {
    if (expired_owners.count({key.agg.pid, key.agg.start_time})) expired.latency.push_back(key);
  }
  return expired;
}

void Aggregator::NoteShown() {
  for (auto& [owner, gone] : gone_since_) gone.shown = true;
}

}  // namespace netlens
