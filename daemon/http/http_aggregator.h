// Exchanges -> series: per process (its labels as the tcp side renders them: pid, comm,
// service, ...), role, method, route, status and, on the client side, the server's address and
// port. Each series holds the histograms of daemon/http/http_families.h. Bounded: at most
// max_series series, "other" included (limits.series_per_family, as the tcp families count
// it): once max_series - 1 keys have series of their own, a new key is summed into one series
// per role whose every label is "other" (netlens_series_folded). The keys of both roles share
// the budget.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ebpf/lib/common.h"
#include "http/exchange.h"
#include "http/http_config.h"
#include "http/http_counters.h"
#include "http/routes.h"
#include "metrics/request_series.h"

namespace netlens::http {

// The process an exchange belongs to.
struct HttpProcess {
  std::vector<std::pair<std::string, std::string>> labels;  // name, value; in render order
  std::string service;  // picks the route table: the service label, or comm without one
};

struct HttpSeriesKey {
  bool folded = false;  // the "other" series
  std::vector<std::pair<std::string, std::string>> process;
  Role role = Role::kUnknown;
  Method method = Method::kOther;
  std::string route;
  uint16_t status = 0;
  std::string server_address;  // client side only
  uint16_t server_port = 0;    // client side only
  auto operator<=>(const HttpSeriesKey&) const = default;
};

// Durations in the kernel histograms' log2 buckets (ebpf/lib/common.h), so they render with
// latency_buckets like the TCP latencies.
struct DurationHistogram {
  std::array<uint64_t, NL_HIST_BUCKETS> buckets{};
  uint64_t sum_ns = 0;
  void Add(uint64_t ns);
};

// Body sizes: 0 (no body) and powers of 4 from 64 B to 64 MiB.
inline constexpr std::array<uint64_t, 12> kBodySizeBounds = {
    0, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864};
struct SizeHistogram {
  std::array<uint64_t, kBodySizeBounds.size() + 1> buckets{};  // the last: above every bound
  uint64_t sum = 0;
  void Add(uint64_t bytes);
};

struct HttpSeries {
  DurationHistogram duration;
  DurationHistogram time_to_first_byte;
  SizeHistogram request_body;
  SizeHistogram response_body;
  OrphanState orphan;  // expiry (ExpireOrphans)
};

// "host:port", "[v6]:port" or "host" -> address and port; port 0 if none or not a number.
std::pair<std::string_view, uint16_t> SplitHostPort(std::string_view host);

class HttpAggregator {
 public:
  HttpAggregator(const HttpRequestsConfig& config, size_t max_series);

  // socket_address/port: the connection's remote end, the client side's server when the
  // request has no Host (or a Host without port).
  void Add(const HttpProcess& process, const Exchange& exchange, std::string_view socket_address,
           uint16_t socket_port, uint64_t now_ns = 0);

  const std::map<HttpSeriesKey, HttpSeries>& series() const { return series_; }
  // Distinct keys summed into the "other" series (counted up to kMaxFoldedKeysCounted).
  size_t folded_keys() const { return folded_seen_.size(); }
  // Requests given kOverflowRoute, per service.
  std::map<std::string, uint64_t> RouteOverflows() const;
  // Series whose process labels no live process has (`live`) for `ttl` since then and since
  // their last exchange, and that a scrape has shown since (MarkShown), are dropped: a process's
  // series go process_ttl after it exits, as the tcp side's do; a series without a pid label
  // stays while any process with its labels lives. The "other" series stays. Returns how many
  // were dropped.
  size_t ExpireOrphans(const std::set<std::vector<std::pair<std::string, std::string>>>& live,
                       uint64_t ttl_ns, uint64_t now_ns);
  // A scrape rendered the series: orphans may go from now on.
  void MarkShown();
  uint64_t expired() const { return expired_; }
  // Shared by the connections' stitchers.
  Counters& counters() { return counters_; }
  const Counters& counters() const { return counters_; }

 private:
  RouteTable& TableOf(const std::string& service);

  std::map<std::string, std::vector<std::string>> patterns_;  // per service
  uint32_t route_budget_;
  size_t max_series_;
  std::map<std::string, RouteTable> tables_;
  std::map<HttpSeriesKey, HttpSeries> series_;
  std::set<HttpSeriesKey> folded_seen_;
  Counters counters_;
  uint64_t expired_ = 0;
};

}  // namespace netlens::http
