#include "targets/target_selector.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "metrics/labels.h"
#include "metrics/metric_builder.h"
#include "metrics/metric_names.h"
#include "process/process_cgroups.h"
#include "targets/target_match.h"

namespace netlens {
namespace {

// New cgroups and exited processes are picked up this often (and at every decision that
// meets a cgroup not listed yet).
constexpr auto kRescanInterval = std::chrono::seconds(30);
constexpr int kPollMilliseconds = 200;

// Every key of a hash map, key by key (these maps are small: selectors, pending processes).
template <typename K>
std::vector<K> Keys(int fd) {
  std::vector<K> keys;
  K key{}, next{};
  for (K* previous = nullptr; bpf_map_get_next_key(fd, previous, &next) == 0;) {
    keys.push_back(next);
    key = next;
    previous = &key;
  }
  return keys;
}

// Makes the map hold exactly `wanted`: writes every entry first, then deletes the rest, so that
// at no moment a selector that stays is missing.
template <typename K, typename V, typename Less = std::less<K>>
void Replace(int fd, const std::map<K, V, Less>& wanted) {
  for (const auto& [key, value] : wanted) {
    if (bpf_map_update_elem(fd, &key, &value, BPF_ANY) != 0)
      spdlog::warn("targets: writing a selector map failed: {}", std::strerror(errno));
  }
  for (const K& key : Keys<K>(fd)) {
    if (!wanted.count(key)) bpf_map_delete_elem(fd, &key);
  }
}

struct CommKey {
  char comm[NL_COMM_LEN] = {};
  bool operator<(const CommKey& other) const {
    return std::memcmp(comm, other.comm, NL_COMM_LEN) < 0;
  }
};

struct CidrLess {
  bool operator()(const nl_cidr_key& a, const nl_cidr_key& b) const {
    return std::memcmp(&a, &b, sizeof a) < 0;
  }
};

std::string CommOf(const char (&comm)[NL_COMM_LEN]) {
  return std::string(comm, strnlen(comm, NL_COMM_LEN));
}

template <typename Predicate>
bool Any(const TargetsConfig& targets, Predicate predicate) {
  return std::any_of(targets.include.begin(), targets.include.end(), predicate) ||
         std::any_of(targets.exclude.begin(), targets.exclude.end(), predicate);
}

uint32_t FlagsOf(const TargetsConfig& targets, const FiltersConfig& filters) {
  const auto kind_is = [](SelectorKind a, SelectorKind b) { return a == b; };
  const auto has = [&](auto... kinds) {
    return Any(targets, [&](const ProcessSelector& s) { return (kind_is(s.kind, kinds) || ...); });
  };
  const auto has_filter = [&](FilterKind kind) {
    const auto is = [&](const ConnectionFilter& f) { return f.kind == kind; };
    return std::any_of(filters.include.begin(), filters.include.end(), is) ||
           std::any_of(filters.exclude.begin(), filters.exclude.end(), is);
  };
  uint32_t flags = 0;
  if (has(SelectorKind::kPid)) flags |= NL_TARGET_PIDS;
  if (has(SelectorKind::kComm)) flags |= NL_TARGET_COMMS;
  if (has(SelectorKind::kCgroup, SelectorKind::kUnit, SelectorKind::kContainer))
    flags |= NL_TARGET_CGROUPS;
  if (has(SelectorKind::kCommRegex, SelectorKind::kExe)) flags |= NL_TARGET_USER;
  if (!targets.include.empty()) flags |= NL_TARGET_INCLUDE;
  if (has_filter(FilterKind::kLocalPort)) flags |= NL_FILTER_LOCAL_PORTS;
  if (has_filter(FilterKind::kRemotePort)) flags |= NL_FILTER_REMOTE_PORTS;
  if (has_filter(FilterKind::kRemoteCidr)) flags |= NL_FILTER_CIDRS;
  if (!filters.include.empty()) flags |= NL_FILTER_INCLUDE;
  return flags;
}

}  // namespace

TargetSelector::TargetSelector(const Tracer& tracer, const Limits& limits, CgroupDirectory& cgroups)
    : settings_(tracer.maps().tgt_settings),
      pids_(tracer.maps().tgt_pids),
      comms_(tracer.maps().tgt_comms),
      cgroups_(tracer.maps().tgt_cgroups),
      procs_(tracer.maps().tgt_procs),
      ports_(tracer.maps().tgt_ports),
      cidrs_(tracer.maps().tgt_cidrs),
      stats_(tracer.maps().tgt_stats),
      listeners_(tracer.maps().tcp_listeners),
      target_listeners_(tracer.maps().tgt_listeners),
      max_processes_(limits.target_processes),
      cgroup_directory_(cgroups),
      cpus_(libbpf_num_possible_cpus()) {
  events_ = ring_buffer__new(tracer.maps().tgt_events.fd, &TargetSelector::OnEvent, this, nullptr);
  if (!events_)
    throw TracerError(std::string("target_events ring buffer: ") + std::strerror(errno));
  poller_ = std::thread([this] { PollEvents(); });
}

TargetSelector::~TargetSelector() {
  stop_ = true;
  if (poller_.joinable()) poller_.join();
  ring_buffer__free(events_);
}

void TargetSelector::PollEvents() {
  while (!stop_) ring_buffer__poll(events_, kPollMilliseconds);
}

int TargetSelector::OnEvent(void* self, void* data, size_t size) {
  if (size < sizeof(nl_target_event)) return 0;
  nl_target_event event;
  std::memcpy(&event, data, sizeof event);
  auto* selector = static_cast<TargetSelector*>(self);
  std::lock_guard lock(selector->mutex_);
  selector->DecideLocked(event.tgid, CommOf(event.comm), event.cgroup_id);
  return 0;
}

void TargetSelector::Apply(const TargetsConfig& targets, const FiltersConfig& filters) {
  std::lock_guard lock(mutex_);
  targets_ = targets;
  filters_ = filters;
  const uint32_t flags = FlagsOf(targets, filters);
  WriteSelectorMapsLocked();
  WriteFilterMapsLocked();
  // Answers given under the previous config no longer hold; the verdicts that judge what was
  // counted provisionally follow the new config (a process now judged in the kernel is not
  // asked again).
  for (const uint32_t tgid : Keys<uint32_t>(procs_.fd)) bpf_map_delete_elem(procs_.fd, &tgid);
  for (auto& [tgid, verdict] : verdicts_) {
    ProcessFacts facts = ReadProcessFacts(tgid);
    if (facts.comm.empty()) continue;  // gone: its old verdict still judges what it left
    facts.comm = verdict.comm;
    verdict.watched = IsWatched(targets_, MatchProcess(targets_, facts));
  }
  flags_ = flags;
  const uint32_t zero = 0;
  nl_target_settings settings{flags, 0};
  if (bpf_map_update_elem(settings_.fd, &zero, &settings, BPF_ANY) != 0)
    throw TracerError(std::string("writing target_settings failed: ") + std::strerror(errno));
  RescanLocked();
  spdlog::info("targets: {} include, {} exclude selectors; filters: {} include, {} exclude",
               targets.include.size(), targets.exclude.size(), filters.include.size(),
               filters.exclude.size());
}

void TargetSelector::WriteSelectorMapsLocked() {
  std::map<uint32_t, uint8_t> pids;
  std::map<CommKey, uint8_t> comms;
  const auto add = [&](const ProcessSelector& s, uint8_t bit) {
    if (s.kind == SelectorKind::kPid) pids[s.pid] |= bit;
    if (s.kind != SelectorKind::kComm) return;
    CommKey key;
    s.text.copy(key.comm, NL_COMM_LEN - 1);
    comms[key] |= bit;
  };
  for (const auto& s : targets_.include) add(s, NL_MATCH_INCLUDE);
  for (const auto& s : targets_.exclude) add(s, NL_MATCH_EXCLUDE);
  Replace(pids_.fd, pids);
  Replace(comms_.fd, comms);
}

void TargetSelector::WriteFilterMapsLocked() {
  std::vector<uint64_t> words(NL_PORT_LISTS * NL_PORT_WORDS, 0);
  std::map<nl_cidr_key, uint8_t, CidrLess> cidrs;
  const auto add = [&](const ConnectionFilter& f, bool exclude) {
    if (f.kind == FilterKind::kRemoteCidr) {
      nl_cidr_key key{};
      key.prefixlen = 8 + f.prefix_length;
      key.list = exclude ? NL_MATCH_EXCLUDE : NL_MATCH_INCLUDE;
      std::memcpy(key.addr, f.address.data(), 16);
      cidrs[key] = 1;
      return;
    }
    const bool local = f.kind == FilterKind::kLocalPort;
    const uint32_t list = local ? (exclude ? NL_PORTS_LOCAL_EXCLUDE : NL_PORTS_LOCAL_INCLUDE)
                                : (exclude ? NL_PORTS_REMOTE_EXCLUDE : NL_PORTS_REMOTE_INCLUDE);
    for (uint32_t port = f.first_port; port <= f.last_port; ++port)
      words[list * NL_PORT_WORDS + port / 64] |= uint64_t{1} << (port % 64);
  };
  for (const auto& f : filters_.include) add(f, false);
  for (const auto& f : filters_.exclude) add(f, true);
  for (uint32_t index = 0; index < words.size(); ++index)
    bpf_map_update_elem(ports_.fd, &index, &words[index], BPF_ANY);
  Replace(cidrs_.fd, cidrs);
}

// Every cgroup below the root with its match bits, so the kernel judges processes in them alone.
void TargetSelector::ListCgroupsLocked() {
  std::map<uint64_t, uint8_t> cgroups;
  if (flags_ & NL_TARGET_CGROUPS) {
    const CgroupDirectory::Listing listing = cgroup_directory_.List();
    for (const auto& [id, path] : listing.paths) cgroups[id] = MatchCgroupPath(targets_, path);
    if (listing.full) ++cgroups_full_;
  }
  Replace(cgroups_.fd, cgroups);
  cgroups_listed_ = cgroups.size();
}

void TargetSelector::DecideLocked(uint32_t tgid, const std::string& comm, uint64_t cgroup_id) {
  ProcessFacts facts = ReadProcessFacts(tgid);
  facts.comm = comm;  // the answer is for the comm and cgroup the kernel asked about
  if (flags_ & NL_TARGET_CGROUPS) {
    // A cgroup made since the last listing: list again, which also tells the kernel about it.
    if (!cgroup_directory_.Known(cgroup_id)) ListCgroupsLocked();
    if (auto path = cgroup_directory_.Known(cgroup_id)) facts.cgroup = std::move(*path);
  }
  const uint8_t match = MatchProcess(targets_, facts);
  const bool watched = IsWatched(targets_, match);
  nl_target_proc proc{};
  comm.copy(proc.comm, NL_COMM_LEN - 1);
  proc.state = NL_PROC_DECIDED;
  proc.match = match;
  bpf_map_update_elem(procs_.fd, &tgid, &proc, BPF_ANY);
  if (verdicts_.size() >= max_processes_ && !verdicts_.count(tgid)) {
    ++verdicts_full_;  // judged in the kernel still; only its provisional entries stay counted
  } else {
    verdicts_[tgid] = {comm, watched};
  }
  ++(watched ? decided_watched_ : decided_unwatched_);
  // Its listening ports were taken as watched while it was pending.
  if (!watched) {
    for (const uint16_t port : Keys<uint16_t>(listeners_.fd)) {
      nl_listener listener{};
      if (bpf_map_lookup_elem(listeners_.fd, &port, &listener) != 0 || listener.pid != tgid)
        continue;
      const uint8_t no = 0;
      bpf_map_update_elem(target_listeners_.fd, &port, &no, BPF_EXIST);
    }
  }
  spdlog::debug("targets: pid {} ({}, exe {}, cgroup {}) {}", tgid, comm, facts.exe.value_or("?"),
                facts.cgroup.value_or("?"), watched ? "watched" : "not watched");
}

void TargetSelector::DecidePendingLocked() {
  for (const uint32_t tgid : Keys<uint32_t>(procs_.fd)) {
    nl_target_proc proc{};
    if (bpf_map_lookup_elem(procs_.fd, &tgid, &proc) != 0 || proc.state != NL_PROC_PENDING)
      continue;
    DecideLocked(tgid, CommOf(proc.comm), proc.cgroup_id);
  }
}

// New cgroups, exited processes, and how many processes are watched now.
void TargetSelector::RescanLocked() {
  last_rescan_ = std::chrono::steady_clock::now();
  ListCgroupsLocked();
  std::set<uint32_t> alive;
  size_t watched = 0;
  const bool judge = flags_ & NL_TARGET_PROCESS;
  for (const uint32_t pid : ListProcessIds()) {
    alive.insert(pid);
    if (!judge || IsWatched(targets_, MatchProcess(targets_, ReadProcessFacts(pid)))) ++watched;
  }
  processes_ = alive.size();
  watched_processes_ = watched;
  for (const uint32_t tgid : Keys<uint32_t>(procs_.fd)) {
    if (!alive.count(tgid)) bpf_map_delete_elem(procs_.fd, &tgid);
  }
  std::erase_if(verdicts_, [&](const auto& entry) {
    return !alive.count(entry.first) && !referenced_.count(entry.first);
  });
}

bool TargetSelector::DroppedLocked(uint32_t pid, const char* comm) const {
  const auto it = verdicts_.find(pid);
  return it != verdicts_.end() && !it->second.watched &&
         it->second.comm == std::string(comm, strnlen(comm, NL_COMM_LEN));
}

TargetSelector::Dropped TargetSelector::Settle(KernelSnapshot& snapshot) {
  std::lock_guard lock(mutex_);
  Dropped dropped;
  if (std::chrono::steady_clock::now() - last_rescan_ >= kRescanInterval) RescanLocked();
  if (!(flags_ & NL_TARGET_PROCESS) && verdicts_.empty()) return dropped;
  // Every entry in the snapshot was made after its process's PENDING mark: decided now.
  if (flags_ & NL_TARGET_PROCESS) DecidePendingLocked();
  referenced_.clear();
  std::erase_if(snapshot.conns, [&](const auto& entry) {
    referenced_.insert(entry.second.pid);
    return DroppedLocked(entry.second.pid, entry.second.comm);
  });
  std::erase_if(snapshot.closed, [&](const auto& entry) {
    return DroppedLocked(entry.second.pid, entry.second.comm);
  });
  std::erase_if(snapshot.totals, [&](const auto& entry) {
    referenced_.insert(entry.first.pid);
    if (!DroppedLocked(entry.first.pid, entry.first.comm)) return false;
    dropped.totals.push_back(entry.first);
    return true;
  });
  std::erase_if(snapshot.latency, [&](const auto& entry) {
    if (!DroppedLocked(entry.first.agg.pid, entry.first.agg.comm)) return false;
    dropped.latency.push_back(entry.first);
    return true;
  });
  return dropped;
}

void TargetSelector::SettleClosed(std::vector<std::pair<nl_closed_key, nl_conn>>& closed) {
  std::lock_guard lock(mutex_);
  if (!(flags_ & NL_TARGET_PROCESS) && verdicts_.empty()) return;
  if (flags_ & NL_TARGET_PROCESS) DecidePendingLocked();
  std::erase_if(closed, [&](const auto& entry) {
    return DroppedLocked(entry.second.pid, entry.second.comm);
  });
}

void TargetSelector::AppendMetrics(std::vector<prometheus::MetricFamily>& out) {
  std::lock_guard lock(mutex_);
  std::array<uint64_t, NL_TSTAT_MAX> stats{};
  std::vector<uint64_t> per_cpu(cpus_);
  for (uint32_t slot = 0; slot < NL_TSTAT_MAX; ++slot) {
    if (bpf_map_lookup_elem(stats_.fd, &slot, per_cpu.data()) != 0) continue;
    for (const uint64_t v : per_cpu) stats[slot] += v;
  }
  using prometheus::MetricType;
  const auto single = [&](std::string_view name, const char* help, MetricType type, double value) {
    MetricBuilder family(name, help, type);
    family.Add({}, {}, value);
    out.push_back(family.Take());
  };
  single(metric_name::kTargetsWatchedProcesses,
         "Processes the targets select, at the last scan of /proc.", MetricType::Gauge,
         static_cast<double>(watched_processes_));
  single(metric_name::kTargetsProcesses, "Processes on the host, at the last scan of /proc.",
         MetricType::Gauge, static_cast<double>(processes_));
  single(metric_name::kTargetsCgroups,
         "Cgroups listed in the kernel for cgroup, unit and container selectors.",
         MetricType::Gauge, static_cast<double>(cgroups_listed_));
  single(metric_name::kTargetIgnoredConnectionsTotal,
         "Connections not watched (targets and filters): no entry, no accounting.",
         MetricType::Counter, static_cast<double>(stats[NL_TSTAT_IGNORED]));
  MetricBuilder decisions(metric_name::kTargetDecisionsTotal,
                          "Processes judged by user space (comm_regex, exe, new cgroups).",
                          MetricType::Counter);
  decisions.Add({"verdict"}, {"watched"}, static_cast<double>(decided_watched_));
  decisions.Add({"verdict"}, {"not_watched"}, static_cast<double>(decided_unwatched_));
  out.push_back(decisions.Take());
  MetricBuilder full(metric_name::kTargetMapFullTotal,
                     "Target bookkeeping that found its map full; see docs/metrics.md for what "
                     "each one costs.",
                     MetricType::Counter);
  full.Add({"map"}, {"tgt_ignored"}, static_cast<double>(stats[NL_TSTAT_IGNORED_FULL]));
  full.Add({"map"}, {"tgt_procs"},
           static_cast<double>(stats[NL_TSTAT_PROCS_FULL] + verdicts_full_));
  full.Add({"map"}, {"tgt_events"}, static_cast<double>(stats[NL_TSTAT_EVENTS_LOST]));
  full.Add({"map"}, {"tgt_cgroups"}, static_cast<double>(cgroups_full_));
  out.push_back(full.Take());
}

}  // namespace netlens
