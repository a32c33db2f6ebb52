// gRPC calls (HTTP/2 streams with content-type application/grpc, http2/http2_stitcher.h) ->
// series: per process (the tcp side's process labels), role, service and method (from :path
// "/package.Service/Method") and grpc status and, on the client side, the server's address and
// port. Each series holds a duration histogram. Bounded as the HTTP and MySQL series are: at
// most max_series series, "other" included; beyond, new keys are summed into one "other"
// series per role (netlens_series_folded). Series of processes gone expire
// (metrics/request_series.h).
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/http_aggregator.h"  // DurationHistogram, HttpProcess
#include "http2/http2_protocol.h"
#include "metrics/request_series.h"

namespace netlens::grpc {

using http::Role;

// "/package.Service/Method" -> {"package.Service", "Method"}; a path of another shape (or
// http2::kUnknownPath) -> {"", the path without its leading '/'}.
std::pair<std::string_view, std::string_view> SplitGrpcPath(std::string_view path);

struct SeriesKey {
  bool folded = false;  // the "other" series
  std::vector<std::pair<std::string, std::string>> process;
  Role role = Role::kUnknown;
  std::string service, method;
  int status = -1;             // grpc-status; -1: none seen (rendered "unknown")
  std::string server_address;  // client side only
  uint16_t server_port = 0;    // client side only
  auto operator<=>(const SeriesKey&) const = default;
};

struct Series {
  http::DurationHistogram duration;
  OrphanState orphan;
};

class Aggregator {
 public:
  explicit Aggregator(size_t max_series) : max_series_(max_series) {}

  // A gRPC call (exchange.grpc). server_address/port: the connection's remote end (used on
  // the client side).
  void Add(const http::HttpProcess& process, const http2::Exchange& exchange,
           std::string_view server_address, uint16_t server_port);

  const std::map<SeriesKey, Series>& series() const { return series_; }
  size_t folded_keys() const { return folded_seen_.size(); }
  size_t ExpireOrphans(const ProcessLabelSet& live, uint64_t ttl_ns, uint64_t now_ns);
  void MarkShown() { MarkShownOrphans(series_); }
  uint64_t expired() const { return expired_; }

 private:
  size_t max_series_;
  std::map<SeriesKey, Series> series_;
  std::set<SeriesKey> folded_seen_;
  uint64_t expired_ = 0;
};

}  // namespace netlens::grpc
