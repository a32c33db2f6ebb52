#include "collector.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <tuple>

#include "histogram_render.h"
#include "labels.h"
#include "metric_builder.h"
#include "netstat.h"
#include "process_info.h"

namespace netlens {
namespace {

constexpr auto kGcInterval = std::chrono::seconds(5);

// The start time of the process running under pid (it may be another process than the
// series' one: the pid may have been reused).
std::optional<uint64_t> StartTimeOfPid(uint32_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!file || !std::getline(file, stat)) return std::nullopt;
  return ParseStatStartTime(stat);
}

struct TrafficFamily {
  const char* name;
  const char* help;
};
constexpr TrafficFamily kTrafficFamilies[] = {
    {"netlens_tcp_sent_bytes_total", "TCP payload bytes sent by successful send calls."},
    {"netlens_tcp_received_bytes_total",
     "TCP payload bytes received by successful receive calls (MSG_PEEK excluded)."},
    {"netlens_tcp_send_calls_total", "Send calls that moved at least one byte."},
    {"netlens_tcp_receive_calls_total",
     "Receive calls that moved at least one byte (MSG_PEEK excluded)."},
    {"netlens_tcp_retransmits_total", "Retransmitted TCP segments (skbs)."},
};

constexpr const char* kFailureReasons[NL_FAIL_REASONS] = {"refused",     "timeout", "reset",
                                                          "unreachable", "aborted", "other"};

struct LatencyFamily {
  const char* name;
  const char* help;
};
constexpr LatencyFamily kLatencyFamilies[NL_HIST_KINDS] = {
    {"netlens_tcp_rtt_seconds",
     "Smoothed round-trip time (srtt), sampled on the first receive of a connection and every "
     "16th after."},
    {"netlens_tcp_connect_duration_seconds", "Time from SYN_SENT to ESTABLISHED of connects."},
    {"netlens_tcp_connection_duration_seconds", "Lifetime of connections, ESTABLISHED to CLOSE."},
    {"netlens_tcp_response_time_seconds",
     "As a server (direction passive): first byte of a request read to first byte of the "
     "response written; as a client (active): last byte written to first byte read back."},
    {"netlens_tcp_accept_duration_seconds",
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

}  // namespace

Collector::Collector(Tracer& tracer, const AggregatorSettings& settings, BuildInfo build)
    : tracer_(tracer),
      build_(std::move(build)),
      process_cgroups_(tracer.map("proc_cgroups"), tracer.map("target_cgroups").max_entries),
      maps_(tracer),
      aggregator_(WithProcessCgroups(settings)) {
  tracer_.SetKeepClosed(settings.level == Level::kConnection);
}

AggregatorSettings Collector::WithProcessCgroups(AggregatorSettings settings) {
  settings.cgroup_of = [this](uint32_t pid, uint64_t start_time) {
    return process_cgroups_.PathOf(pid, start_time);
  };
  return settings;
}

void Collector::Reconfigure(const AggregatorSettings& settings) {
  std::lock_guard lock(mutex_);
  aggregator_.Reconfigure(WithProcessCgroups(settings));
  tracer_.SetKeepClosed(settings.level == Level::kConnection);
}

void Collector::CountReload(bool success) {
  std::lock_guard lock(mutex_);
  ++(success ? reloads_ok_ : reloads_failed_);
}

void Collector::Refresh() {
  std::lock_guard lock(mutex_);
  RefreshLocked();
}

void Collector::RefreshLocked() const {
  const auto now = SteadyClock::now();
  const bool connection_level = aggregator_.settings().level == Level::kConnection;
  KernelSnapshot& snapshot = snapshot_;
  maps_.Read(/*drain_closed=*/true, snapshot);
  conns_seen_ = snapshot.conns.size();
  totals_seen_ = snapshot.totals.size();
  closed_seen_ = snapshot.closed.size();
  listeners_seen_ = snapshot.listeners;
  if (!connection_level) snapshot.closed.clear();  // left over from a level change
  if (targets_) {
    const TargetSelector::Dropped dropped = targets_->Settle(snapshot);
    maps_.DeleteTotals(dropped.totals);
    maps_.DeleteLatency(dropped.latency);
  }
  aggregator_.Update(snapshot, now);
  if (now - last_gc_ >= kGcInterval) {
    const Aggregator::Expired expired = aggregator_.CollectGarbage(now, StartTimeOfPid);
    maps_.DeleteTotals(expired.totals);
    maps_.DeleteLatency(expired.latency);
    last_gc_ = now;
  }
}

std::vector<prometheus::MetricFamily> Collector::Collect() const {
  std::lock_guard lock(mutex_);
  const auto start = SteadyClock::now();
  RefreshLocked();
  std::vector<prometheus::MetricFamily> out;
  AppendTraffic(out);
  AppendConnections(out);
  const std::chrono::duration<double> took = SteadyClock::now() - start;
  AppendSelf(out, took.count());
  if (targets_) targets_->AppendMetrics(out);
  return out;
}

void Collector::AppendTraffic(std::vector<prometheus::MetricFamily>& out) const {
  const auto& names = aggregator_.traffic_labels();
  const auto series = Sorted(aggregator_.traffic());
  for (size_t i = 0; i < std::size(kTrafficFamilies); ++i) {
    MetricBuilder family(kTrafficFamilies[i].name, kTrafficFamilies[i].help,
                         prometheus::MetricType::Counter);
    family.Reserve(series.size());
    for (const auto* s : series) family.Add(names, s->labels, static_cast<double>(s->value[i]));
    out.push_back(family.Take());
  }
}

void Collector::AppendConnections(std::vector<prometheus::MetricFamily>& out) const {
  const auto& names = aggregator_.connection_labels();
  const auto series = Sorted(aggregator_.connections());
  MetricBuilder opened("netlens_tcp_connections_opened_total",
                       "TCP connections that reached ESTABLISHED.",
                       prometheus::MetricType::Counter);
  MetricBuilder closed("netlens_tcp_connections_closed_total",
                       "Established TCP connections that closed.", prometheus::MetricType::Counter);
  MetricBuilder failures("netlens_tcp_connect_failures_total",
                         "Connects that closed before reaching ESTABLISHED, by reason.",
                         prometheus::MetricType::Counter);
  std::vector<std::string> failure_names = names;
  failure_names.push_back("reason");
  MetricBuilder open("netlens_tcp_connections_open", "Established TCP connections open now.",
                     prometheus::MetricType::Gauge);
  // Open connections of keys folded into the overflow series count there.
  uint64_t folded_open = 0;
  for (const auto& [labels, count] : aggregator_.open_connections()) {
    if (!aggregator_.connections().series().count(SeriesKeyOf(labels))) folded_open += count;
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
    const auto it = aggregator_.open_connections().find(s->labels);
    uint64_t now_open = it == aggregator_.open_connections().end() ? 0 : it->second;
    if (std::all_of(s->labels.begin(), s->labels.end(), [](auto& v) { return v == "other"; }))
      now_open += folded_open;
    open.Add(names, s->labels, static_cast<double>(now_open));
  }
  for (MetricBuilder* family : {&opened, &closed, &failures, &open}) out.push_back(family->Take());

  MetricBuilder transitions("netlens_tcp_state_transitions_total",
                            "TCP state changes on this host (sock:inet_sock_set_state).",
                            prometheus::MetricType::Counter);
  const auto& counts = aggregator_.transitions();
  for (unsigned slot = 0; slot < counts.size(); ++slot) {
    if (counts[slot] == 0) continue;
    transitions.Add(
        {"from_state", "to_state"},
        {TcpStateName(slot / NL_TCP_STATE_SLOTS), TcpStateName(slot % NL_TCP_STATE_SLOTS)},
        static_cast<double>(counts[slot]));
  }
  out.push_back(transitions.Take());
  AppendListenQueue(out);
  AppendLatency(out);
}

void Collector::AppendListenQueue(std::vector<prometheus::MetricFamily>& out) const {
  const std::optional<ListenQueueDrops> drops = ReadListenQueueDrops();
  if (!drops) return;  // no /proc/net/netstat: the families are left out
  const std::tuple<const char*, const char*, uint64_t> families[] = {
      {"netlens_tcp_listen_overflows_total",
       "SYNs and handshake ACKs dropped because a listener's accept queue was full, in netlens' "
       "network namespace (TcpExt ListenOverflows).",
       drops->overflows},
      {"netlens_tcp_listen_drops_total",
       "SYNs and handshake ACKs dropped by listeners for any reason, in netlens' network "
       "namespace (TcpExt ListenDrops).",
       drops->drops}};
  for (const auto& [name, help, value] : families) {
    MetricBuilder family(name, help, prometheus::MetricType::Counter);
    family.Add({}, {}, static_cast<double>(value));
    out.push_back(family.Take());
  }
}

void Collector::AppendLatency(std::vector<prometheus::MetricFamily>& out) const {
  const auto& names = aggregator_.connection_labels();
  const ShownBuckets shown = ShownBucketsOf(aggregator_.settings().latency_buckets);
  for (uint32_t kind = 0; kind < NL_HIST_KINDS; ++kind) {
    prometheus::MetricFamily family;
    family.name = kLatencyFamilies[kind].name;
    family.help = kLatencyFamilies[kind].help;
    family.type = prometheus::MetricType::Histogram;
    for (const auto* s : Sorted(aggregator_.latency(kind))) {
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

void Collector::AppendProcessCache(std::vector<prometheus::MetricFamily>& out) const {
  using prometheus::MetricType;
  const ProcessCache& cache = aggregator_.process_labels().cache();
  MetricBuilder entries("netlens_process_cache_entries",
                        "Processes whose metadata (label values) is cached.", MetricType::Gauge);
  entries.Add({}, {}, static_cast<double>(cache.size()));
  out.push_back(entries.Take());
  MetricBuilder misses("netlens_process_cache_misses_total",
                       "Process metadata lookups that read /proc (new or refreshed processes).",
                       MetricType::Counter);
  misses.Add({}, {}, static_cast<double>(cache.stats().misses));
  out.push_back(misses.Take());
  MetricBuilder evictions("netlens_process_cache_evictions_total",
                          "Processes dropped from the metadata cache to stay within "
                          "limits.processes.",
                          MetricType::Counter);
  evictions.Add({}, {}, static_cast<double>(cache.stats().evictions));
  out.push_back(evictions.Take());
  MetricBuilder listings("netlens_process_cgroup_listings_total",
                         "Listings of the cgroup v2 hierarchy to name the cgroup id of a process "
                         "that exited; full: stopped at limits.target_cgroups.",
                         MetricType::Counter);
  listings.Add({"result"}, {"complete"},
               static_cast<double>(process_cgroups_.listings() - process_cgroups_.listings_full()));
  listings.Add({"result"}, {"full"}, static_cast<double>(process_cgroups_.listings_full()));
  out.push_back(listings.Take());
}

void Collector::AppendSelf(std::vector<prometheus::MetricFamily>& out,
                           double scrape_seconds) const {
  using prometheus::MetricType;
  MetricBuilder build("netlens_build_info", "netlens build and runtime versions; always 1.",
                      MetricType::Gauge);
  build.Add({"version", "libbpf_version", "kernel"},
            {build_.version, build_.libbpf_version, build_.kernel}, 1);
  out.push_back(build.Take());

  MetricBuilder attached("netlens_program_attached",
                         "1 when the eBPF program is attached to its hook.", MetricType::Gauge);
  for (const auto& p : tracer_.programs())
    attached.Add({"program", "hook", "mode"}, {p.program, p.hook, p.mode}, p.attached ? 1 : 0);
  out.push_back(attached.Take());

  MetricBuilder runs("netlens_program_runs_total",
                     "Runs of each eBPF program; counted only while kernel.bpf_stats_enabled=1.",
                     MetricType::Counter);
  MetricBuilder run_time(
      "netlens_program_run_seconds_total",
      "Time spent in each eBPF program; counted only while kernel.bpf_stats_enabled=1.",
      MetricType::Counter);
  MetricBuilder missed(
      "netlens_program_missed_runs_total",
      "Events an eBPF program did not see: runs the kernel skipped because another "
      "BPF run on that CPU was interrupted (tp_btf/fentry: the same program; "
      "tracepoint/kprobe: any tracing program).",
      MetricType::Counter);
  for (const auto& p : tracer_.programs()) {
    const ProgramCounters counters = tracer_.counters(p.program);
    runs.Add({"program"}, {p.program}, static_cast<double>(counters.run_count));
    run_time.Add({"program"}, {p.program}, static_cast<double>(counters.run_time_ns) / 1e9);
    missed.Add({"program"}, {p.program}, static_cast<double>(counters.missed_runs));
  }
  out.push_back(runs.Take());
  out.push_back(run_time.Take());
  out.push_back(missed.Take());

  MetricBuilder hooks("netlens_hook_attach_info",
                      "The attach mode serving each hook and why it was picked; always 1.",
                      MetricType::Gauge);
  for (const auto& h : tracer_.hooks())
    hooks.Add({"hook", "mode", "reason"}, {h.hook, h.mode, h.reason}, 1);
  out.push_back(hooks.Take());

  MetricBuilder entries("netlens_map_entries", "Entries in a kernel map at this scrape.",
                        MetricType::Gauge);
  MetricBuilder capacity("netlens_map_max_entries", "Capacity of a kernel map (limits.*).",
                         MetricType::Gauge);
  const std::pair<const MapInfo*, size_t> maps[] = {{&maps_.conns(), conns_seen_},
                                                    {&maps_.totals(), totals_seen_},
                                                    {&maps_.closed(), closed_seen_},
                                                    {&maps_.listeners(), listeners_seen_}};
  for (const auto& [info, seen] : maps) {
    entries.Add({"map"}, {info->name}, static_cast<double>(seen));
    capacity.Add({"map"}, {info->name}, info->max_entries);
  }
  out.push_back(entries.Take());
  out.push_back(capacity.Take());

  MetricBuilder overflows("netlens_kernel_overflows_total",
                          "Events or folds that found a kernel map full; their counts went to a "
                          "coarser key, not lost.",
                          MetricType::Counter);
  const auto& stats = aggregator_.kernel_stats();
  overflows.Add({"map"}, {"conns"}, static_cast<double>(stats[NL_STAT_CONNS_FULL]));
  overflows.Add({"map"}, {"totals"}, static_cast<double>(stats[NL_STAT_TOTALS_FULL]));
  overflows.Add({"map"}, {"closed"}, static_cast<double>(stats[NL_STAT_CLOSED_FULL]));
  overflows.Add({"map"}, {"listeners"}, static_cast<double>(stats[NL_STAT_LISTENERS_FULL]));
  overflows.Add({"map"}, {"calls"}, static_cast<double>(stats[NL_STAT_CALLS_FULL]));
  out.push_back(overflows.Take());

  MetricBuilder late_closes(
      "netlens_kernel_late_closes_total",
      "Connections closed when their socket was freed, because the kernel skipped netlens' run "
      "on their CLOSE transition (netlens_program_missed_runs_total); counted, not lost.",
      MetricType::Counter);
  late_closes.Add({}, {}, static_cast<double>(stats[NL_STAT_LATE_CLOSES]));
  out.push_back(late_closes.Take());

  MetricBuilder series("netlens_series", "Series in a metric family at this scrape.",
                       MetricType::Gauge);
  MetricBuilder folded("netlens_series_folded",
                       "Keys summed into the family's \"other\" series (over its series budget).",
                       MetricType::Gauge);
  for (const auto& family : out) {
    const bool traffic = family.name.rfind("netlens_tcp_", 0) == 0;
    if (!traffic || family.name == "netlens_tcp_state_transitions_total" ||
        family.name.rfind("netlens_tcp_listen_", 0) == 0)
      continue;  // host-wide, no series budget
    const bool is_traffic = std::any_of(std::begin(kTrafficFamilies), std::end(kTrafficFamilies),
                                        [&](auto& f) { return family.name == f.name; });
    size_t folded_keys =
        is_traffic ? aggregator_.traffic().folded_keys() : aggregator_.connections().folded_keys();
    for (uint32_t kind = 0; kind < NL_HIST_KINDS; ++kind) {
      if (family.name == kLatencyFamilies[kind].name)
        folded_keys = aggregator_.latency(kind).folded_keys();
    }
    series.Add({"family"}, {family.name}, static_cast<double>(family.metric.size()));
    folded.Add({"family"}, {family.name}, static_cast<double>(folded_keys));
  }
  out.push_back(series.Take());
  out.push_back(folded.Take());

  AppendProcessCache(out);

  MetricBuilder duration("netlens_scrape_duration_seconds",
                         "Time to read the kernel maps and build this scrape's series.",
                         MetricType::Gauge);
  duration.Add({}, {}, scrape_seconds);
  out.push_back(duration.Take());

  MetricBuilder reloads("netlens_config_reloads_total", "Configuration reloads (SIGHUP).",
                        MetricType::Counter);
  reloads.Add({"result"}, {"success"}, static_cast<double>(reloads_ok_));
  reloads.Add({"result"}, {"failure"}, static_cast<double>(reloads_failed_));
  out.push_back(reloads.Take());
}

}  // namespace netlens
