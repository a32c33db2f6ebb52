// Process metadata by process identity (pid, start time), read from /proc once
// and read again when it is `refresh` old: labels are looked up per process,
// never per event. An entry stays until its process's series are dropped
// (Forget), so a process that exited keeps its labels; only over the bound is
// the least recently used entry evicted (its process, if gone, then loses them).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <string>
#include <utility>

#include "process/process_info.h"

namespace netlens {

// The cgroup v2 path of a process (pid, start time) as the kernel saw it; "" when unknown.
using CgroupOfProcess = std::function<std::string(uint32_t pid, uint64_t start_time)>;

class ProcessCache {
 public:
  using Clock = std::chrono::steady_clock;
  struct Stats {
    uint64_t misses = 0;     // lookups that read /proc
    uint64_t evictions = 0;  // entries dropped to stay within the bound
  };

  // cgroup_of: where the cgroup of a process that is gone before /proc was read comes from.
  ProcessCache(size_t capacity, std::chrono::seconds refresh, std::string proc_root = "/proc",
               CgroupOfProcess cgroup_of = {});

  // The metadata of the process (pid, start_time); start_time in boot-clock ns as the kernel
  // keys carry it (0: unknown, any process with the pid). When /proc/PID is another process
  // (the pid was reused) or gone, the metadata is empty but for the pid: unknown.
  const ProcessInfo& Lookup(uint32_t pid, uint64_t start_time, Clock::time_point now);

  // The process's series are gone: its entry is no longer needed.
  void Forget(uint32_t pid, uint64_t start_time);

  size_t size() const { return entries_.size(); }
  const Stats& stats() const { return stats_; }

 private:
  using Key = std::pair<uint32_t, uint64_t>;
  struct Entry {
    ProcessInfo info;
    Clock::time_point read_at;
    std::list<Key>::iterator lru;
  };

  size_t capacity_;
  std::chrono::seconds refresh_;
  std::string proc_root_;
  CgroupOfProcess cgroup_of_;
  std::map<Key, Entry> entries_;
  std::list<Key> lru_;  // most recently used first
  Stats stats_;
};

// Boot-clock ns (the kernel's task start_boottime) in the clock ticks of /proc/PID/stat.
uint64_t StartTimeTicks(uint64_t start_time_ns);

}  // namespace netlens
