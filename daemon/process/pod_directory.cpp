#include "process/pod_directory.h"

#include <filesystem>

namespace netlens {
namespace {
constexpr auto kRescanInterval = std::chrono::seconds(5);
}

std::optional<std::pair<std::string, PodName>> ParsePodDirectoryName(const std::string& entry) {
  // Namespaces and pod names are DNS labels/subdomains: no '_'. The uid is last.
  const size_t first = entry.find('_');
  const size_t last = entry.rfind('_');
  if (first == std::string::npos || first == last || first == 0 || last + 1 == entry.size())
    return std::nullopt;
  PodName pod{entry.substr(0, first), entry.substr(first + 1, last - first - 1)};
  if (pod.name.find('_') != std::string::npos) return std::nullopt;
  return std::make_pair(entry.substr(last + 1), std::move(pod));
}

PodDirectory::PodDirectory(std::string directory, size_t capacity)
    : directory_(std::move(directory)), capacity_(capacity) {}

std::optional<PodName> PodDirectory::Lookup(const std::string& uid, Clock::time_point now) {
  auto it = pods_.find(uid);
  if (it != pods_.end()) return it->second;
  if (scanned_at_ && now - *scanned_at_ < kRescanInterval) return std::nullopt;
  scanned_at_ = now;
  Rescan();
  it = pods_.find(uid);
  if (it != pods_.end()) return it->second;
  return std::nullopt;
}

void PodDirectory::Rescan() {
  pods_.clear();
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(directory_, error)) {
    if (pods_.size() >= capacity_) break;
    if (auto pod = ParsePodDirectoryName(entry.path().filename().string()))
      pods_.insert(std::move(*pod));
  }
}

}  // namespace netlens
