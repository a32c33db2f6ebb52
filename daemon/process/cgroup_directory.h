// The cgroup v2 hierarchy as id -> path: a cgroup's id is the inode of its directory, so a
// listing of the hierarchy names every id. One directory serves both users of it, the cgroup
// selectors of targets and the cgroup labels of processes that exited, so the hierarchy is
// walked for both at once. Bounded: a listing keeps at most `capacity` cgroups (limits.
// target_cgroups) and says when it stopped there. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace netlens {

// Calls visit(id, path) for the root ("/") and every cgroup below it, until it returns false.
void ForEachCgroup(const std::string& root,
                   const std::function<bool(uint64_t id, const std::string& path)>& visit);

class CgroupDirectory {
 public:
  // root: where cgroup v2 is mounted (none: every lookup misses).
  CgroupDirectory(std::optional<std::string> root, size_t capacity);

  struct Listing {
    std::map<uint64_t, std::string> paths;
    bool full = false;  // stopped at capacity
  };
  // Lists the hierarchy now.
  Listing List();
  // The path of `id` at the last listing.
  std::optional<std::string> Known(uint64_t id) const;
  // The path of `id`, listing again first when it is unknown and the last listing a Find made
  // is at least `relist_after` old (listings by List() do not count: a cgroup made since then,
  // by a process that has exited since, must still be found). `listed` and `full` say whether
  // this call listed, and how it ended.
  struct Lookup {
    std::optional<std::string> path;
    bool listed = false;
    bool full = false;
  };
  Lookup Find(uint64_t id, std::chrono::steady_clock::duration relist_after);

 private:
  Listing ListLocked();

  const std::optional<std::string> root_;
  const size_t capacity_;
  mutable std::mutex mutex_;
  std::map<uint64_t, std::string> paths_;                   // at the last listing
  std::chrono::steady_clock::time_point find_listed_at_{};  // the last listing Find made
};

}  // namespace netlens
