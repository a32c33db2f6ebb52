// Names of network namespaces bind-mounted in a directory (ip netns add NAME:
// /run/netns/NAME), by inode; read again on a miss, at most every few seconds.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace netlens {

class NetnsNames {
 public:
  using Clock = std::chrono::steady_clock;
  NetnsNames(std::string directory, size_t capacity);

  // "" when the namespace has no name there.
  std::string Lookup(uint64_t inode, Clock::time_point now);

 private:
  std::string directory_;
  size_t capacity_;
  std::map<uint64_t, std::string> names_;
  std::optional<Clock::time_point> scanned_at_;
};

}  // namespace netlens
