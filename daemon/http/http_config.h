// The `http_requests` section of the config: which processes have their HTTP/1.x traffic
// parsed into request metrics, the routes per service, and the bounds. (`http` is taken: it
// configures netlens' own /metrics endpoint.)
//
// Off by default: parsing needs the capture to copy the first bytes of every read and write of
// a watched process into a ring buffer, a cost paid on each such call, where the TCP counters
// cost nothing per call. So nothing is parsed unless `processes.include` names processes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "http/capture.h"
#include "http/routes.h"
#include "targets/target_config.h"

namespace YAML {
class Node;
}

namespace netlens::http {

// `routes` entry: the patterns of one service (routes.h), matched in order.
struct ServiceRoutes {
  std::string service;  // the `service` label (services rules); a process without one: its comm
  std::vector<std::string> patterns;
};

struct HttpRequestsConfig {
  // The targets selectors (pid, comm, comm_regex, exe, cgroup, unit, container); unlike
  // `targets`, an empty include list selects no process.
  TargetsConfig processes;
  std::vector<ServiceRoutes> routes;
  uint32_t route_budget = kDefaultRouteBudget;  // heuristic routes per service
  uint32_t connections = 4096;                  // connections parsed at once; more are skipped
  uint32_t pending_requests = 32;               // per connection, awaiting their response
  // HTTPS too: uprobes on the OpenSSL (libssl.so*) the watched processes map, at a cost per
  // SSL_read/SSL_write call (docs/performance.md); Linux >= 6.6. A restart applies a change.
  bool tls = false;
  // Where the capture takes send/receive calls from (capture.h): auto, sock_length, syscalls.
  // A restart applies a change.
  CaptureHooks capture_hooks = CaptureHooks::kAuto;
  // `protocols: [http, mysql]`: the same processes' MySQL (classic protocol) connections too
  // (daemon/mysql/), told apart by the kernel at the server's greeting or a client's query.
  // A restart applies a change.
  bool mysql = false;
  // `protocols: [http, http2]`: HTTP/2 connections too (daemon/http2/): h2c from the client
  // preface, h2 over TLS (with tls) from the plaintext's; their requests get the HTTP families
  // and, gRPC ones, the rpc_* families. A restart applies a change.
  bool http2 = false;
  bool enabled() const { return !processes.include.empty(); }
};

inline constexpr uint32_t kMaxRouteBudget = 10000;
inline constexpr uint32_t kMaxHttpConnections = 1 << 20;
inline constexpr uint32_t kMaxPendingRequests = 1024;

// `value` is the section's value node; errors are ConfigError "SOURCE:LINE:COLUMN: message".
HttpRequestsConfig ParseHttpRequests(const std::string& source, const YAML::Node& value);

}  // namespace netlens::http
