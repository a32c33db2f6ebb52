#include "process/process_cache.h"

#include <unistd.h>

namespace netlens {

uint64_t StartTimeTicks(uint64_t start_time_ns) {
  static const uint64_t kNsPerTick = 1000000000ull / static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
  return start_time_ns / kNsPerTick;
}

ProcessCache::ProcessCache(size_t capacity, std::chrono::seconds refresh, std::string proc_root,
                           CgroupOfProcess cgroup_of)
    : capacity_(capacity),
      refresh_(refresh),
      proc_root_(std::move(proc_root)),
      cgroup_of_(std::move(cgroup_of)) {}

const ProcessInfo& ProcessCache::Lookup(uint32_t pid, uint64_t start_time, Clock::time_point now) {
  const Key key{pid, start_time};
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    if (now - it->second.read_at < refresh_) return it->second.info;
  } else {
    if (entries_.size() >= capacity_ && !lru_.empty()) {
      entries_.erase(lru_.back());
      lru_.pop_back();
      ++stats_.evictions;
    }
    lru_.push_front(key);
    it = entries_.emplace(key, Entry{{}, now, lru_.begin()}).first;
  }
  ++stats_.misses;
  Entry& entry = it->second;
  entry.read_at = now;
  std::optional<ProcessInfo> info = pid == 0 ? std::nullopt : ReadProcessInfo(pid, proc_root_);
  // /proc/PID of another process than the kernel saw: its metadata would be wrong.
  if (info && start_time != 0 && info->start_time_ticks != StartTimeTicks(start_time)) info.reset();
  // A process that is gone keeps what was read while it ran (its series keep their labels).
  if (info) {
    entry.info = std::move(*info);
  } else if (entry.info.cgroup.path.empty() && cgroup_of_ && start_time != 0) {
    // Gone before /proc was read: the cgroup the kernel saw it in names it still.
    std::string path = cgroup_of_(pid, start_time);
    if (!path.empty()) {
      entry.info.cgroup = ParseCgroupPath(path);
      entry.info.cgroup_v2_path = std::move(path);
    }
  }
  entry.info.pid = pid;
  return entry.info;
}

void ProcessCache::Forget(uint32_t pid, uint64_t start_time) {
  auto it = entries_.find({pid, start_time});
  if (it == entries_.end()) return;
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

}  // namespace netlens
