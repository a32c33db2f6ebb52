// The `service_map` section of the config (issue 18): whether edges between workloads are
// counted, and the names of remote networks.
//
// Off by default: it hands every closed connection to user space (tcp_closed, drained every
// 200 ms), a copy per connection in the kernel and about 7 us of daemon CPU per connection
// (docs/performance.md, "Service map"). On in config/examples/http.yaml.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace YAML {
class Node;
}

namespace netlens::topology {

// `- cidr: 10.0.0.0/8` / `name: corp`: a remote address in the network is named `name`.
struct RemoteName {
  std::string cidr;                   // as written, for messages
  std::array<uint8_t, 16> address{};  // IPv6, or IPv4-mapped IPv6
  uint8_t prefix_length = 0;          // of the 128-bit address (IPv4 /8 is 104)
  std::string name;
  bool operator==(const RemoteName&) const = default;
};

inline constexpr size_t kMaxRemoteNames = 1024;

struct ServiceMapConfig {
  bool enabled = false;
  std::vector<RemoteName> remote_names;  // first match wins
  bool operator==(const ServiceMapConfig&) const = default;
};

// `value` is the section's value node; errors are ConfigError "SOURCE:LINE:COLUMN: message".
ServiceMapConfig ParseServiceMap(const std::string& source, const YAML::Node& value);

// The name of the first rule whose network holds `address` (16 bytes), or nullptr.
const std::string* RemoteNameOf(const std::vector<RemoteName>& rules, const uint8_t address[16]);

}  // namespace netlens::topology
