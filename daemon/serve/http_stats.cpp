// The HTTP endpoint's self metrics (http_stats.h).
#include "serve/http_stats.h"

#include <string>

#include "metrics/metric_builder.h"

namespace netlens {

HttpStats::HttpStats() : exposer_registry_(std::make_shared<prometheus::Registry>()) {
  // Names, help and quantiles as prometheus-cpp 1.0's exposer registered them.
  transferred_bytes_ = &prometheus::BuildCounter()
                            .Name("exposer_transferred_bytes_total")
                            .Help("Transferred bytes to metrics services")
                            .Register(*exposer_registry_)
                            .Add({});
  scrapes_ = &prometheus::BuildCounter()
                  .Name("exposer_scrapes_total")
                  .Help("Number of times metrics were scraped")
                  .Register(*exposer_registry_)
                  .Add({});
  latencies_ =
      &prometheus::BuildSummary()
           .Name("exposer_request_latencies")
           .Help("Latencies of serving scrape requests, in microseconds")
           .Register(*exposer_registry_)
           .Add({}, prometheus::Summary::Quantiles{{0.5, 0.05}, {0.9, 0.01}, {0.99, 0.001}});
}

void HttpStats::CountAccepted() {
  accepted_.fetch_add(1, std::memory_order_relaxed);
  open_.fetch_add(1, std::memory_order_relaxed);
}

void HttpStats::CountRejected(Admission reason) {
  (reason == Admission::kPerPeerLimit ? rejected_per_peer_ : rejected_total_)
      .fetch_add(1, std::memory_order_relaxed);
}

void HttpStats::CountTimedOut(HttpPhase phase) {
  timed_out_[static_cast<size_t>(phase)].fetch_add(1, std::memory_order_relaxed);
}

void HttpStats::CountScrape(size_t bytes, std::chrono::nanoseconds took) {
  transferred_bytes_->Increment(static_cast<double>(bytes));
  scrapes_->Increment();
  latencies_->Observe(std::chrono::duration<double, std::micro>(took).count());
}

std::vector<prometheus::MetricFamily> HttpStats::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> out = exposer_registry_->Collect();
  const auto load = [](const auto& counter) {
    return static_cast<double>(counter.load(std::memory_order_relaxed));
  };

  MetricBuilder open("netlens_http_connections_open",
                     "Connections to the HTTP endpoint open now (http.max_connections at most).",
                     MetricType::Gauge);
  open.Add({}, {}, load(open_));
  out.push_back(open.Take());

  MetricBuilder accepted("netlens_http_connections_accepted_total",
                         "Connections to the HTTP endpoint admitted (within its bounds).",
                         MetricType::Counter);
  accepted.Add({}, {}, load(accepted_));
  out.push_back(accepted.Take());

  MetricBuilder rejected("netlens_http_connections_rejected_total",
                         "Connections to the HTTP endpoint closed at once because a bound was "
                         "reached: total_limit (http.max_connections), per_peer_limit "
                         "(http.max_connections_per_peer).",
                         MetricType::Counter);
  rejected.Add({"reason"}, {"total_limit"}, load(rejected_total_));
  rejected.Add({"reason"}, {"per_peer_limit"}, load(rejected_per_peer_));
  out.push_back(rejected.Take());

  MetricBuilder timed_out("netlens_http_connections_timed_out_total",
                          "Connections to the HTTP endpoint closed at a deadline, by the phase "
                          "they were in (http.request_header_timeout, http.request_timeout).",
                          MetricType::Counter);
  constexpr std::array<const char*, kHttpPhases> kPhaseNames = {"tls_handshake", "request_header",
                                                                "request", "response_write"};
  for (size_t phase = 0; phase < kHttpPhases; ++phase) {
    timed_out.Add({"phase"}, {kPhaseNames[phase]}, load(timed_out_[phase]));
  }
  out.push_back(timed_out.Take());
  return out;
}

}  // namespace netlens
