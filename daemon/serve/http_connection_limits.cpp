// Connection admission of the HTTP endpoint (http_connection_limits.h).
#include "serve/http_connection_limits.h"

namespace netlens {

Admission ConnectionLimits::Admit(const std::string& peer) {
  std::lock_guard lock(mutex_);
  if (open_ >= total_) return Admission::kTotalLimit;
  uint32_t& from_peer = per_peer_open_[peer];
  if (from_peer >= per_peer_) return Admission::kPerPeerLimit;
  ++from_peer;
  ++open_;
  return Admission::kAdmitted;
}

void ConnectionLimits::Release(const std::string& peer) {
  std::lock_guard lock(mutex_);
  const auto found = per_peer_open_.find(peer);
  if (found == per_peer_open_.end()) return;
  --open_;
  if (--found->second == 0) per_peer_open_.erase(found);
}

uint32_t ConnectionLimits::open() const {
  std::lock_guard lock(mutex_);
  return open_;
}

}  // namespace netlens
