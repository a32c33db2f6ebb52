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
#include <set>
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
  // The path of `id`, listing again first when it is unknown: at once for an id no listing has
  // missed yet (a cgroup made since the last listing, by a process that may have exited since),
  // at most once per `relist_after` for ids a listing already missed (removed cgroups).
  // `listed` and `full` say whether this call listed, and how it ended.
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
  std::set<uint64_t> missed_;  // ids a listing did not find; at most `capacity_`
};

}  // namespace netlens
