#include "process/netns_names.h"

#include <sys/stat.h>

#include <filesystem>

namespace netlens {
namespace {
constexpr auto kRescanInterval = std::chrono::seconds(5);
}

NetnsNames::NetnsNames(std::string directory, size_t capacity)
    : directory_(std::move(directory)), capacity_(capacity) {}

std::string NetnsNames::Lookup(uint64_t inode, Clock::time_point now) {
  auto it = names_.find(inode);
  if (it != names_.end()) return it->second;
  if (scanned_at_ && now - *scanned_at_ < kRescanInterval) return "";
  scanned_at_ = now;
  names_.clear();
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(directory_, error)) {
    if (names_.size() >= capacity_) break;
    struct stat st {};
    // stat follows the bind mount to the namespace file; its inode is the namespace's.
    if (stat(entry.path().c_str(), &st) == 0) names_[st.st_ino] = entry.path().filename();
  }
  it = names_.find(inode);
  return it == names_.end() ? "" : it->second;
}

}  // namespace netlens
