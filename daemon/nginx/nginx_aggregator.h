// nginx's requests -> series (issue 17): per server (the listening address:port the request
// came in on), method, route and status, the $request_time histogram and the request and
// response byte counts; per server, upstream peer and upstream status, the tries with their
// $upstream_connect_time, $upstream_header_time and $upstream_response_time histograms.
//
// - Exactly nginx's numbers: each record is what the access log would print for the request
//   (ebpf/nginx/phases.bpf.c), so counts and millisecond sums equal the log's.
// - Per server, not per process: nginx's workers are interchangeable, and a pid label would
//   only churn series.
// - Bounded: at most max_series series per family, the "other" series included: once
//   max_series - 1 keys have series of their own, new keys are summed into one series whose
//   every label is "other" (folded_keys() counts the distinct keys folded, up to
//   kMaxFoldedKeysCounted). Routes: configured patterns, then the heuristic with the
//   route budget (http/routes.h).
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ebpf/nginx/phases.h"
#include "http/http_aggregator.h"
#include "http/routes.h"

namespace netlens::nginx {

struct RequestKey {
  bool folded = false;
  std::string server;  // "127.0.0.1:8080", "[::1]:8080"
  std::string method;  // as http/exchange.h names it ("_OTHER" for an unknown one)
  std::string route;
  uint16_t status = 0;  // $status
  auto operator<=>(const RequestKey&) const = default;
};

struct RequestSeries {
  http::DurationHistogram duration;  // $request_time
  uint64_t request_bytes = 0;        // $request_length
  uint64_t response_bytes = 0;       // $bytes_sent
};

struct UpstreamKey {
  bool folded = false;
  std::string server;
  std::string upstream;  // the peer's name as nginx logs it ($upstream_addr): "127.0.0.1:9000"
  std::string status;    // $upstream_status of the try; "none" where nginx logs "-"
  auto operator<=>(const UpstreamKey&) const = default;
};

struct UpstreamSeries {
  uint64_t tries = 0;
  // Tries that reached the phase: nginx logs "-" for the others, and so nothing is observed.
  http::DurationHistogram connect, header, response;
  uint64_t bytes_received = 0, bytes_sent = 0;
};

// "addr:port" of a record's listening address ("unknown" without one).
std::string ServerOf(const nl_nginx_request& request);

class NginxAggregator {
 public:
  NginxAggregator(std::vector<std::string> route_patterns, uint32_t route_budget,
                  size_t max_series);

  void Add(const nl_nginx_request& request);

  const std::map<RequestKey, RequestSeries>& requests() const { return requests_; }
  const std::map<UpstreamKey, UpstreamSeries>& upstreams() const { return upstreams_; }
  uint64_t route_overflow() const { return routes_.overflow_count(); }
  size_t folded_request_keys() const { return folded_requests_.size(); }
  size_t folded_upstream_keys() const { return folded_upstreams_.size(); }
  // Tries beyond the NL_NGINX_TRIES the probe copies per request: counted, not timed.
  uint64_t tries_not_copied() const { return tries_not_copied_; }
  uint64_t requests_added() const { return added_; }

 private:
  template <typename Key, typename Series>
  Series& SeriesOf(std::map<Key, Series>& family, std::set<Key>& folded, Key key);

  http::RouteTable routes_;
  size_t max_series_;
  std::map<RequestKey, RequestSeries> requests_;
  std::map<UpstreamKey, UpstreamSeries> upstreams_;
  std::set<RequestKey> folded_requests_;
  std::set<UpstreamKey> folded_upstreams_;
  uint64_t tries_not_copied_ = 0, added_ = 0;
};

}  // namespace netlens::nginx
