#include "nginx/nginx_aggregator.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <string_view>

#include "http/exchange.h"

namespace netlens::nginx {
namespace {

constexpr uint64_t kNanosPerMilli = 1'000'000;

std::string_view Copied(const char* bytes, uint32_t length, size_t capacity) {
  return std::string_view(bytes, std::min<size_t>(length, capacity));
}

// nginx's ngx_msec_int_t: a negative time (a clock step) is logged as 0.
uint64_t Nanos(uint64_t ms) { return static_cast<int64_t>(ms) < 0 ? 0 : ms * kNanosPerMilli; }

}  // namespace

std::string ServerOf(const nl_nginx_request& request) {
  char text[INET6_ADDRSTRLEN] = {};
  const std::string port = std::to_string(request.local_port);
  if (request.local_family == 2 /* AF_INET */ &&
      inet_ntop(AF_INET, request.local_addr, text, sizeof(text)))
    return std::string(text) + ":" + port;
  if (request.local_family == 10 /* AF_INET6 */ &&
      inet_ntop(AF_INET6, request.local_addr, text, sizeof(text)))
    return "[" + std::string(text) + "]:" + port;
  return "unknown";
}

NginxAggregator::NginxAggregator(std::vector<std::string> route_patterns, uint32_t route_budget,
                                 size_t max_series)
    : routes_(std::move(route_patterns), route_budget),
      max_series_(std::max<size_t>(max_series, 1)) {}

template <typename Key, typename Series>
Series& NginxAggregator::SeriesOf(std::map<Key, Series>& family, std::set<Key>& folded, Key key) {
  if (auto it = family.find(key); it != family.end()) return it->second;
  Key other{};
  other.folded = true;
  const bool has_other = family.count(other) != 0;
  if (family.size() + (has_other ? 0 : 1) < max_series_) return family[std::move(key)];
  if (folded.size() < kMaxFoldedKeysCounted) folded.insert(std::move(key));
  return family[other];
}

void NginxAggregator::Add(const nl_nginx_request& request) {
  ++added_;
  const std::string server = ServerOf(request);
  std::string_view path = Copied(request.path, request.path_len, NL_NGINX_PATH_BYTES);
  path = path.substr(0, std::min(path.find('?'), path.find('#')));  // never a label
  RequestKey key{.server = server,
                 .method = std::string(http::MethodName(http::MethodOf(
                     Copied(request.method, request.method_len, NL_NGINX_METHOD_BYTES)))),
                 .route = std::string(routes_.Route(path)),
                 .status = static_cast<uint16_t>(std::min<uint64_t>(request.status, 999))};
  RequestSeries& series = SeriesOf(requests_, folded_requests_, std::move(key));
  series.duration.Add(Nanos(request.request_ms));
  series.request_bytes += request.request_length;
  series.response_bytes += request.bytes_sent;

  const uint32_t copied = std::min<uint32_t>(request.tries, NL_NGINX_TRIES);
  tries_not_copied_ += request.tries - copied;
  for (uint32_t i = 0; i < copied; ++i) {
    const nl_nginx_try& t = request.tries_copied[i];
    UpstreamKey upstream{.server = server,
                         .upstream = std::string(Copied(t.peer, t.peer_len, NL_NGINX_PEER_BYTES)),
                         .status = t.status ? std::to_string(std::min<uint64_t>(t.status, 999))
                                            : std::string("none")};
    if (upstream.upstream.empty()) upstream.upstream = "none";
    UpstreamSeries& tries = SeriesOf(upstreams_, folded_upstreams_, std::move(upstream));
    ++tries.tries;
    if (t.connect_ms != NL_NGINX_NO_TIME) tries.connect.Add(Nanos(t.connect_ms));
    if (t.header_ms != NL_NGINX_NO_TIME) tries.header.Add(Nanos(t.header_ms));
    if (t.response_ms != NL_NGINX_NO_TIME) tries.response.Add(Nanos(t.response_ms));
    tries.bytes_received += t.bytes_received;
    tries.bytes_sent += t.bytes_sent;
  }
}

}  // namespace netlens::nginx
