#include "process/cgroup_directory.h"

#include <sys/stat.h>

#include <filesystem>

namespace netlens {

void ForEachCgroup(const std::string& root_path,
                   const std::function<bool(uint64_t id, const std::string& path)>& visit) {
  const std::filesystem::path root(root_path);
  const auto visit_dir = [&](const std::filesystem::path& dir, const std::string& path) {
    struct stat status {};
    return stat(dir.c_str(), &status) != 0 || visit(status.st_ino, path);
  };
  if (!visit_dir(root, "/")) return;
  std::error_code error;
  for (auto it = std::filesystem::recursive_directory_iterator(
           root, std::filesystem::directory_options::skip_permission_denied, error);
       !error && it != std::filesystem::recursive_directory_iterator(); it.increment(error)) {
    if (!it->is_directory(error) || it->is_symlink(error)) continue;
    if (!visit_dir(it->path(), "/" + std::filesystem::relative(it->path(), root, error).string()))
      return;
  }
}

CgroupDirectory::CgroupDirectory(std::optional<std::string> root, size_t capacity)
    : root_(std::move(root)), capacity_(capacity) {}

CgroupDirectory::Listing CgroupDirectory::ListLocked() {
  Listing listing;
  if (root_) {
    ForEachCgroup(*root_, [&](uint64_t id, const std::string& path) {
      if (listing.paths.size() >= capacity_) {
        listing.full = true;
        return false;
      }
      listing.paths[id] = path;
      return true;
    });
  }
  paths_ = listing.paths;
  return listing;
}

CgroupDirectory::Listing CgroupDirectory::List() {
  std::lock_guard lock(mutex_);
  return ListLocked();
}

std::optional<std::string> CgroupDirectory::Known(uint64_t id) const {
  std::lock_guard lock(mutex_);
  const auto it = paths_.find(id);
  if (it == paths_.end()) return std::nullopt;
  return it->second;
}

CgroupDirectory::Lookup CgroupDirectory::Find(uint64_t id,
                                              std::chrono::steady_clock::duration relist_after) {
  std::lock_guard lock(mutex_);
  Lookup lookup;
  auto it = paths_.find(id);
  const auto now = std::chrono::steady_clock::now();
  const bool missed_before = missed_.count(id) != 0;
  if (it == paths_.end() && (!missed_before || now - find_listed_at_ >= relist_after)) {
    find_listed_at_ = now;
    lookup.listed = true;
    lookup.full = ListLocked().full;
    it = paths_.find(id);
    if (it == paths_.end()) {
      if (missed_.size() >= capacity_) missed_.clear();  // bounded; forgotten ids list once more
      missed_.insert(id);
    }
  }
  if (it != paths_.end()) lookup.path = it->second;
  return lookup;
}

}  // namespace netlens
