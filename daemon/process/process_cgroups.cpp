#include "process/process_cgroups.h"

#include <bpf/bpf.h>
#include <sys/stat.h>

#include <filesystem>

#include "ebpf/process/process.h"
#include "process/process_info.h"

namespace netlens {
namespace {

constexpr auto kMinListingInterval = std::chrono::seconds(1);

}  // namespace

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

ProcessCgroups::ProcessCgroups(MapInfo map, size_t capacity)
    : map_(std::move(map)), capacity_(capacity), root_(CgroupV2Root()) {}

void ProcessCgroups::List() {
  listed_at_ = std::chrono::steady_clock::now();
  ++listings_;
  paths_.clear();
  if (!root_) return;
  ForEachCgroup(*root_, [&](uint64_t id, const std::string& path) {
    if (paths_.size() >= capacity_) {
      ++listings_full_;
      return false;
    }
    paths_[id] = path;
    return true;
  });
}

std::string ProcessCgroups::PathOf(uint32_t pid, uint64_t start_time) {
  nl_proc_key key{};
  key.pid = pid;
  key.start_time = start_time;
  uint64_t id = 0;
  if (map_.fd < 0 || bpf_map_lookup_elem(map_.fd, &key, &id) != 0) return "";
  auto it = paths_.find(id);
  if (it == paths_.end() && std::chrono::steady_clock::now() - listed_at_ >= kMinListingInterval) {
    List();
    it = paths_.find(id);
  }
  return it == paths_.end() ? "" : it->second;
}

}  // namespace netlens
