// The `targets` and `filters` sections of the config: which processes and connections netlens
// watches. Parsed here; enforced in the kernel (ebpf/filters.bpf.h) by target_selector.cpp.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <regex>
#include <string>
#include <vector>

namespace YAML {
class Node;
}

namespace netlens {

enum class SelectorKind { kPid, kComm, kCommRegex, kExe, kCgroup, kUnit, kContainer };

// One entry of targets.include or targets.exclude, e.g. `- comm: nginx`.
struct ProcessSelector {
  SelectorKind kind = SelectorKind::kComm;
  std::string text;  // as written: comm, pattern, glob, unit, container id prefix
  uint32_t pid = 0;  // kPid
  std::shared_ptr<const std::regex> regex;  // kCommRegex
};

struct TargetsConfig {
  std::vector<ProcessSelector> include;  // empty: every process
  std::vector<ProcessSelector> exclude;
  bool empty() const { return include.empty() && exclude.empty(); }
};

enum class FilterKind { kLocalPort, kRemotePort, kRemoteCidr };

// One entry of filters.include or filters.exclude, e.g. `- remote_cidr: 10.0.0.0/8`.
struct ConnectionFilter {
  FilterKind kind = FilterKind::kLocalPort;
  std::string text;
  uint16_t first_port = 0;  // ports: an inclusive range
  uint16_t last_port = 0;
  std::array<uint8_t, 16> address{};  // CIDR: IPv6, or IPv4-mapped IPv6
  uint8_t prefix_length = 0;          // of the 128-bit address (IPv4 /8 is 104)
};

struct FiltersConfig {
  std::vector<ConnectionFilter> include;  // empty: every connection
  std::vector<ConnectionFilter> exclude;
  bool empty() const { return include.empty() && exclude.empty(); }
};

// Kernel map bounds of the selectors (ebpf/filters.bpf.h); more is a config error.
inline constexpr size_t kMaxPidSelectors = 1024;
inline constexpr size_t kMaxCommSelectors = 1024;
inline constexpr size_t kMaxCidrFilters = 1024;

// `value` is the section's value node; errors are ConfigError "SOURCE:LINE:COLUMN: message".
// section: the key path errors name (the HTTP section reuses the selectors).
TargetsConfig ParseTargets(const std::string& source, const YAML::Node& value,
                           const std::string& section = "targets");
FiltersConfig ParseFilters(const std::string& source, const YAML::Node& value);

// "10.0.0.0/8", "fd00::/8" or one address ("127.0.0.2", "::1") -> the 16-byte address
// (IPv4-mapped for IPv4) and the prefix length of the 128-bit address (IPv4 /8 is 104). Returns
// what is wrong ("must be ...", "needs ..."), or "" when the text is a CIDR.
std::string ParseCidrText(const std::string& text, std::array<uint8_t, 16>& address,
                          uint8_t& prefix_length);

}  // namespace netlens
