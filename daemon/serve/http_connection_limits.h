// Admission of HTTP connections: at most `total` open at once, at most `per_peer` of them from
// one client address. A connection admitted holds its slot until released. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace netlens {

enum class Admission { kAdmitted, kTotalLimit, kPerPeerLimit };

class ConnectionLimits {
 public:
  ConnectionLimits(uint32_t total, uint32_t per_peer) : total_(total), per_peer_(per_peer) {}
  // `peer` is the client address in a canonical form (IPv4-mapped IPv6 as IPv4).
  Admission Admit(const std::string& peer);
  void Release(const std::string& peer);
  uint32_t open() const;

 private:
  const uint32_t total_;
  const uint32_t per_peer_;
  mutable std::mutex mutex_;
  uint32_t open_ = 0;
  std::map<std::string, uint32_t> per_peer_open_;  // only peers with connections open
};

}  // namespace netlens
