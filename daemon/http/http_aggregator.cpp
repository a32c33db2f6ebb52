#include "http/http_aggregator.h"

#include <algorithm>
#include <charconv>

namespace netlens::http {

void DurationHistogram::Add(uint64_t ns) {
  // The kernel's nl_hist_bucket (ebpf/lib/histogram.bpf.h): bucket b holds ns below
  // 2^(b + NL_HIST_SHIFT).
  size_t bucket = 0;
  if (ns >= (uint64_t{1} << NL_HIST_SHIFT)) {
    bucket = static_cast<size_t>(63 - __builtin_clzll(ns)) - NL_HIST_SHIFT + 1;
  }
  ++buckets[std::min<size_t>(bucket, NL_HIST_BUCKETS - 1)];
  sum_ns += ns;
}

void SizeHistogram::Add(uint64_t bytes) {
  const auto it = std::lower_bound(kBodySizeBounds.begin(), kBodySizeBounds.end(), bytes);
  ++buckets[static_cast<size_t>(it - kBodySizeBounds.begin())];
  sum += bytes;
}

std::pair<std::string_view, uint16_t> SplitHostPort(std::string_view host) {
  constexpr size_t kNone = std::string_view::npos;
  std::string_view address = host;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    if (close == kNone) return {host, 0};
    address = host.substr(1, close - 1);
    if (close + 1 < host.size()) {
      if (host[close + 1] != ':') return {host, 0};
      port = host.substr(close + 2);
    }
  } else if (const size_t colon = host.find(':'); colon != kNone) {
    if (host.find(':', colon + 1) != kNone) return {host, 0};  // a bare IPv6 address
    address = host.substr(0, colon);
    port = host.substr(colon + 1);
  }
  uint16_t value = 0;
  const char* const end = port.data() + port.size();
  if (const auto [parsed, error] = std::from_chars(port.data(), end, value);
      error != std::errc() || parsed != end) {
    value = 0;
  }
  return {address, value};
}

HttpAggregator::HttpAggregator(const HttpRequestsConfig& config, size_t max_series)
    : route_budget_(config.route_budget), max_series_(max_series) {
  for (const ServiceRoutes& routes : config.routes) patterns_[routes.service] = routes.patterns;
}

RouteTable& HttpAggregator::TableOf(const std::string& service) {
  auto it = tables_.find(service);
  if (it == tables_.end()) {
    const auto patterns = patterns_.find(service);
    it = tables_
             .try_emplace(
                 service,
                 patterns == patterns_.end() ? std::vector<std::string>() : patterns->second,
                 route_budget_)
             .first;
  }
  return it->second;
}

void HttpAggregator::Add(const HttpProcess& process, const Exchange& exchange,
                         std::string_view socket_address, uint16_t socket_port, uint64_t now_ns) {
  HttpSeriesKey key;
  key.process = process.labels;
  key.role = exchange.role;
  key.method = exchange.method;
  key.route = TableOf(process.service).Route(exchange.path);
  key.status = exchange.status;
  if (exchange.role == Role::kClient) {
    const auto [address, port] = SplitHostPort(exchange.host);
    key.server_address = address.empty() ? socket_address : address;
    key.server_port = port != 0 ? port : socket_port;
  }
  HttpSeries& series =
      SeriesWithinBudget(series_, std::move(key), max_series_, folded_seen_, now_ns);
  const auto since_start = [&](uint64_t ns) {
    return ns > exchange.request_start_ns ? ns - exchange.request_start_ns : 0;
  };
  series.duration.Add(since_start(exchange.response_last_byte_ns));
  series.time_to_first_byte.Add(since_start(exchange.response_first_byte_ns));
  series.request_body.Add(exchange.request_body_bytes);
  series.response_body.Add(exchange.response_body_bytes);
}

size_t HttpAggregator::ExpireOrphans(
    const std::set<std::vector<std::pair<std::string, std::string>>>& live, uint64_t ttl_ns,
    uint64_t now_ns) {
  const size_t dropped = ExpireOrphanSeries(series_, live, ttl_ns, now_ns);
  expired_ += dropped;
  return dropped;
}

void HttpAggregator::MarkShown() { MarkShownOrphans(series_); }

std::map<std::string, uint64_t> HttpAggregator::RouteOverflows() const {
  std::map<std::string, uint64_t> out;
  for (const auto& [service, table] : tables_) {
    if (table.overflow_count() > 0) out[service] = table.overflow_count();
  }
  return out;
}

}  // namespace netlens::http
