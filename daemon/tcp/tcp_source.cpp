#include "tcp/tcp_source.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <tuple>

#include "metrics/histogram_render.h"
#include "metrics/labels.h"
#include "metrics/metric_builder.h"
#include "metrics/metric_names.h"
#include "process/process_info.h"
#include "tcp/netstat.h"
#include "tcp/tcp_families.h"

namespace netlens {
namespace {

// Exited processes are looked for (one /proc/PID/stat read per process with series) this
// often: half their TTL, between 1 s and 5 s, so a short process_ttl is kept (series of an
// exited process last about TTL + interval + one scrape, not TTL + 5 s).
std::chrono::seconds GcInterval(std::chrono::seconds process_ttl) {
  return std::clamp<std::chrono::seconds>(process_ttl / 2, std::chrono::seconds(1),
                                          std::chrono::seconds(5));
}

// The start time of the process running under pid (it may be another process than the
// series' one: the pid may have been reused).
std::optional<uint64_t> StartTimeOfPid(uint32_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!file || !std::getline(file, stat)) return std::nullopt;
  return ParseStatStartTime(stat);
}

}  // namespace

TcpSource::TcpSource(Tracer& tracer, const AggregatorSettings& settings, CgroupDirectory& cgroups)
    : tracer_(tracer),
      process_cgroups_(tracer.maps().proc_cgroups, cgroups),
      maps_(tracer),
      aggregator_(WithProcessCgroups(settings)) {
  tracer_.SetKeepClosed(settings.level == Level::kConnection);
}

AggregatorSettings TcpSource::WithProcessCgroups(AggregatorSettings settings) {
  settings.accounting = tracer_.accounting();
  settings.cgroup_of = [this](uint32_t pid, uint64_t start_time) {
    return process_cgroups_.PathOf(pid, start_time);
  };
  return settings;
}

void TcpSource::Reconfigure(const AggregatorSettings& settings) {
  std::lock_guard lock(mutex_);
  aggregator_.Reconfigure(WithProcessCgroups(settings));
  tracer_.SetKeepClosed(settings.level == Level::kConnection || observer_ != nullptr);
}

void TcpSource::SetSnapshotObserver(SnapshotObserver observer, ClosedObserver closed) {
  std::lock_guard lock(mutex_);
  observer_ = std::move(observer);
  closed_observer_ = std::move(closed);
  tracer_.SetKeepClosed(aggregator_.settings().level == Level::kConnection || observer_ != nullptr);
}

void TcpSource::DrainClosed() {
  std::lock_guard lock(mutex_);
  if (!closed_observer_ || aggregator_.settings().level == Level::kConnection) return;
  maps_.DrainClosed(drained_);
  if (targets_) targets_->SettleClosed(drained_);
  if (!drained_.empty()) closed_observer_(drained_);
}

void TcpSource::Refresh() {
  std::lock_guard lock(mutex_);
  RefreshLocked(/*read_socket_counters=*/false);
  CollectGarbageLocked();
}

void TcpSource::RefreshLocked(bool read_socket_counters) const {
  const auto now = SteadyClock::now();
  const bool connection_level = aggregator_.settings().level == Level::kConnection;
  KernelSnapshot& snapshot = snapshot_;
  // Kernel accounting: live connections' counters, now. Scrapes only: the refresh between
  // scrapes drains and collects; live values may wait (they only grow), and the RTT
  // histogram gets one sample per live connection and scrape, whatever the refresh interval.
  const std::optional<uint32_t> live =
      read_socket_counters ? tracer_.ReadSocketCounters() : std::nullopt;
  maps_.Read(/*drain_closed=*/true, live, snapshot);
  conns_seen_ = snapshot.conns.size();
  totals_seen_ = snapshot.totals.size();
  closed_seen_ = snapshot.closed.size();
  listeners_seen_ = snapshot.listeners;
  if (targets_) {
    const TargetSelector::Dropped dropped = targets_->Settle(snapshot);
    maps_.DeleteTotals(dropped.totals);
    maps_.DeleteLatency(dropped.latency);
  }
  if (observer_) observer_(snapshot);
  // Kept for the service map, or left over from a level change.
  if (!connection_level) snapshot.closed.clear();
  aggregator_.Update(snapshot, now);
}

void TcpSource::CollectGarbageLocked() const {
  const auto now = SteadyClock::now();
  if (now - last_gc_ >= GcInterval(aggregator_.settings().process_ttl)) {
    const Aggregator::Expired expired = aggregator_.CollectGarbage(now, StartTimeOfPid);
    maps_.DeleteTotals(expired.totals);
    maps_.DeleteLatency(expired.latency);
    last_gc_ = now;
  }
}

void TcpSource::Collect(SourceOutput out) {
  std::lock_guard lock(mutex_);
  RefreshLocked(/*read_socket_counters=*/true);
  AppendTcpFamilies(aggregator_, out.families);
  AppendListenQueue(out.families);
  AppendMapUse(out.families);
  AppendProcessCache(out.families);
  DeclareTcpBudgets(aggregator_, out.budgets);
  // After rendering: what this scrape showed may expire now, nothing unshown.
  aggregator_.NoteShown();
  CollectGarbageLocked();
}

void TcpSource::AppendListenQueue(std::vector<prometheus::MetricFamily>& out) const {
  const std::optional<ListenQueueDrops> drops = ReadListenQueueDrops();
  if (!drops) return;  // no /proc/net/netstat: the families are left out
  const std::tuple<std::string_view, const char*, uint64_t> families[] = {
      {metric_name::kTcpListenOverflowsTotal,
       "SYNs and handshake ACKs dropped because a listener's accept queue was full, in netlens' "
       "network namespace (TcpExt ListenOverflows).",
       drops->overflows},
      {metric_name::kTcpListenDropsTotal,
       "SYNs and handshake ACKs dropped by listeners for any reason, in netlens' network "
       "namespace (TcpExt ListenDrops).",
       drops->drops}};
  for (const auto& [name, help, value] : families) {
    MetricBuilder family(name, help, prometheus::MetricType::Counter);
    family.Add({}, {}, static_cast<double>(value));
    out.push_back(family.Take());
  }
}

void TcpSource::AppendProcessCache(std::vector<prometheus::MetricFamily>& out) const {
  using prometheus::MetricType;
  const ProcessCache& cache = aggregator_.process_labels().cache();
  MetricBuilder entries(metric_name::kProcessCacheEntries,
                        "Processes whose metadata (label values) is cached.", MetricType::Gauge);
  entries.Add({}, {}, static_cast<double>(cache.size()));
  out.push_back(entries.Take());
  MetricBuilder misses(metric_name::kProcessCacheMissesTotal,
                       "Process metadata lookups that read /proc (new or refreshed processes).",
                       MetricType::Counter);
  misses.Add({}, {}, static_cast<double>(cache.stats().misses));
  out.push_back(misses.Take());
  MetricBuilder evictions(metric_name::kProcessCacheEvictionsTotal,
                          "Processes dropped from the metadata cache to stay within "
                          "limits.processes.",
                          MetricType::Counter);
  evictions.Add({}, {}, static_cast<double>(cache.stats().evictions));
  out.push_back(evictions.Take());
  MetricBuilder listings(metric_name::kProcessCgroupListingsTotal,
                         "Listings of the cgroup v2 hierarchy to name the cgroup id of a process "
                         "that exited; full: stopped at limits.target_cgroups.",
                         MetricType::Counter);
  listings.Add({"result"}, {"complete"},
               static_cast<double>(process_cgroups_.listings() - process_cgroups_.listings_full()));
  listings.Add({"result"}, {"full"}, static_cast<double>(process_cgroups_.listings_full()));
  out.push_back(listings.Take());
}

void TcpSource::AppendMapUse(std::vector<prometheus::MetricFamily>& out) const {
  using prometheus::MetricType;
  MetricBuilder entries(metric_name::kMapEntries, "Entries in a kernel map at this scrape.",
                        MetricType::Gauge);
  MetricBuilder capacity(metric_name::kMapMaxEntries, "Capacity of a kernel map (limits.*).",
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

  MetricBuilder overflows(metric_name::kKernelOverflowsTotal,
                          "Events or folds that found a kernel map full; their counts went to a "
                          "coarser key, not lost.",
                          MetricType::Counter);
  const auto& stats = aggregator_.kernel_stats();
  overflows.Add({"map"}, {"tcp_conns"}, static_cast<double>(stats[NL_STAT_CONNS_FULL]));
  overflows.Add({"map"}, {"tcp_totals"}, static_cast<double>(stats[NL_STAT_TOTALS_FULL]));
  overflows.Add({"map"}, {"tcp_closed"}, static_cast<double>(stats[NL_STAT_CLOSED_FULL]));
  overflows.Add({"map"}, {"tcp_listeners"}, static_cast<double>(stats[NL_STAT_LISTENERS_FULL]));
  overflows.Add({"map"}, {"tcp_calls"}, static_cast<double>(stats[NL_STAT_CALLS_FULL]));
  overflows.Add({"map"}, {"tcp_live"}, static_cast<double>(stats[NL_STAT_LIVE_FULL]));
  out.push_back(overflows.Take());

  // The kernel side's unlabelled counters, one family each.
  const auto counter = [&](std::string_view name, std::string_view help, uint32_t stat) {
    MetricBuilder family(name, std::string(help), MetricType::Counter);
    family.Add({}, {}, static_cast<double>(stats[stat]));
    out.push_back(family.Take());
  };
  counter(metric_name::kKernelLateClosesTotal,
          "Connections closed when their socket was freed, because the kernel skipped netlens' "
          "run on their CLOSE transition (netlens_program_missed_runs_total); counted, not lost.",
          NL_STAT_LATE_CLOSES);
  counter(metric_name::kKernelAdoptedConnectionsTotal,
          "Connections already open when netlens started, found at start-up and counted from "
          "then on (kernel accounting).",
          NL_STAT_ADOPTED);
  counter(metric_name::kKernelStaleEntriesTotal,
          "Connection entries that outlived their socket with neither its CLOSE nor its "
          "tcp_destroy_sock run seen, closed and counted when found (a scrape, or the next "
          "socket at the address).",
          NL_STAT_STALE_ENTRIES);
  counter(metric_name::kKernelUnreadFoldsTotal,
          "Kernel accounting: connections folded into totals with their socket's counters never "
          "read (their CLOSE and tcp_destroy_sock runs skipped, no close() run before): their "
          "bytes are not counted, at most one connection's each.",
          NL_STAT_UNREAD_FOLDS);
  counter(metric_name::kKernelNestedStateChangesTotal,
          "State changes nested into netlens' own state-change run on a CPU (a softirq's inside "
          "a process context's), which the kernel skips in nl_state_tp_btf, taken by "
          "nl_state_nested_tp_btf instead: counted, not lost.",
          NL_STAT_NESTED_STATE_CHANGES);
}

}  // namespace netlens
