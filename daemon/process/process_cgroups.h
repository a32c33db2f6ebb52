// The cgroup of a process, also after it exited: the kernel notes each process's cgroup v2 id
// where it captures its identity (proc_cgroups map), and an id is the inode of the cgroup's
// directory, so a listing of the hierarchy turns it into a path.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>

#include "bpf/tracer.h"

namespace netlens {

// Calls visit(id, path) for the root ("/") and every cgroup below it, until it returns false.
void ForEachCgroup(const std::string& root,
                   const std::function<bool(uint64_t id, const std::string& path)>& visit);

class ProcessCgroups {
 public:
  // map: the kernel's proc_cgroups; capacity: how many cgroups a listing keeps at most.
  ProcessCgroups(MapInfo map, size_t capacity);

  // The v2 path ("/a/b") of the cgroup the process (pid, start time in boot-clock ns) was in;
  // "" when the kernel has none for it or no cgroup has its id (removed before it was listed).
  // An id not listed yet lists the hierarchy again, at most once a second.
  std::string PathOf(uint32_t pid, uint64_t start_time);

  uint64_t listings() const { return listings_; }
  uint64_t listings_full() const { return listings_full_; }

 private:
  void List();

  MapInfo map_;
  size_t capacity_;
  std::optional<std::string> root_;
  std::unordered_map<uint64_t, std::string> paths_;  // at the last listing
  std::chrono::steady_clock::time_point listed_at_{};
  uint64_t listings_ = 0, listings_full_ = 0;
};

}  // namespace netlens
