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
#include "process/cgroup_directory.h"

namespace netlens {

class ProcessCgroups {
 public:
  // map: the kernel's proc_cgroups; cgroups: the directory shared with the targets.
  ProcessCgroups(MapInfo map, CgroupDirectory& cgroups);

  // The v2 path ("/a/b") of the cgroup the process (pid, start time in boot-clock ns) was in;
  // "" when the kernel has none for it or no cgroup has its id (removed before it was listed).
  // An id not listed yet lists the hierarchy again, at most once a second.
  std::string PathOf(uint32_t pid, uint64_t start_time);

  uint64_t listings() const { return listings_; }
  uint64_t listings_full() const { return listings_full_; }

 private:
  MapInfo map_;
  CgroupDirectory& cgroups_;
  uint64_t listings_ = 0, listings_full_ = 0;
};

}  // namespace netlens
