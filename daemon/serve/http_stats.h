// Counters of the HTTP endpoint itself, exposed with every scrape (docs/metrics.md): connections
// open, accepted, rejected at a bound (by reason) and timed out (by phase); plus the
// exposer_* metrics prometheus-cpp's civetweb exposer used to add, kept for dashboards that
// use them. Counting is thread-safe (the netlens_http_* counts are plain atomics).
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <prometheus/summary.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "serve/http_connection_limits.h"

namespace netlens {

// Where a connection was when its deadline passed.
enum class HttpPhase { kTlsHandshake, kRequestHeader, kRequest, kResponseWrite };
inline constexpr size_t kHttpPhases = 4;

class HttpStats : public prometheus::Collectable {
 public:
  HttpStats();

  // An admitted connection opens; CountClosed when it ends.
  void CountAccepted();
  void CountClosed() { open_.fetch_sub(1, std::memory_order_relaxed); }
  void CountRejected(Admission reason);
  void CountTimedOut(HttpPhase phase);
  // One /metrics response: its body's bytes and the time to build it.
  void CountScrape(size_t bytes, std::chrono::nanoseconds took);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::atomic<int64_t> open_{0};
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> rejected_total_{0};
  std::atomic<uint64_t> rejected_per_peer_{0};
  std::array<std::atomic<uint64_t>, kHttpPhases> timed_out_{};

  std::shared_ptr<prometheus::Registry> exposer_registry_;
  prometheus::Counter* transferred_bytes_;
  prometheus::Counter* scrapes_;
  prometheus::Summary* latencies_;
};

}  // namespace netlens
