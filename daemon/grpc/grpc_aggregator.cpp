#include "grpc/grpc_aggregator.h"

namespace netlens::grpc {

std::pair<std::string_view, std::string_view> SplitGrpcPath(std::string_view path) {
  if (path.starts_with('/')) path.remove_prefix(1);
  const size_t slash = path.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == path.size() ||
      path.find('/', slash + 1) != std::string_view::npos)
    return {"", path};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

void Aggregator::Add(const http::HttpProcess& process, const http2::Exchange& exchange,
                     std::string_view server_address, uint16_t server_port) {
  SeriesKey key;
  key.process = process.labels;
  key.role = exchange.role;
  const auto [service, method] = SplitGrpcPath(exchange.path);
  key.service = service;
  key.method = method;
  key.status = exchange.grpc_status;
  if (exchange.role == Role::kClient) {
    key.server_address = server_address;
    key.server_port = server_port;
  }
  Series& series = SeriesWithinBudget(series_, std::move(key), max_series_, folded_seen_,
                                      exchange.response_end_ns);
  const uint64_t start = exchange.request_start_ns, end = exchange.response_end_ns;
  series.duration.Add(end > start ? end - start : 0);
}

size_t Aggregator::ExpireOrphans(const ProcessLabelSet& live, uint64_t ttl_ns, uint64_t now_ns) {
  const size_t dropped = ExpireOrphanSeries(series_, live, ttl_ns, now_ns);
  expired_ += dropped;
  return dropped;
}

}  // namespace netlens::grpc
