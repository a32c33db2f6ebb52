// Parses the `targets` and `filters` sections; config/netlens.yaml documents them.
#include "targets/target_config.h"

#include <arpa/inet.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>

#include "config/config.h"
#include "config/yaml_walk.h"

namespace netlens {
namespace {

constexpr uint32_t kMaxPid = 4194304;   // PID_MAX_LIMIT
constexpr size_t kMaxComm = 15;         // TASK_COMM_LEN - 1
constexpr size_t kMinContainerId = 12;  // the short id docker prints
constexpr size_t kContainerIdLength = 64;

constexpr std::array<std::string_view, 2> kListKeys = {"include", "exclude"};
constexpr std::array<std::string_view, 7> kSelectorKeys = {
    "pid", "comm", "comm_regex", "exe", "cgroup", "unit", "container"};  // by SelectorKind
constexpr std::array<std::string_view, 3> kFilterKeys = {"local_port", "remote_port",
                                                         "remote_cidr"};  // by FilterKind
constexpr std::array<std::string_view, 3> kUnitSuffixes = {".service", ".scope", ".slice"};

[[noreturn]] void FailAt(const std::string& source, const YAML::Node& node,
                         const std::string& message) {
  FailAtMark(source, node.Mark(), message);
}

// The key of a one-key map entry, checked against `names`; returns its index.
size_t EntryKey(const std::string& source, const std::string& path, const YAML::Node& entry,
                std::span<const std::string_view> names, std::string_view what) {
  if (!entry.IsMap() || entry.size() != 1) {
    FailAt(source, entry,
           "'" + path + "' entries are maps of one " + std::string(what) + " (" + JoinNames(names) +
               "), e.g. '- " + std::string(names[1]) + ": ...', got " +
               (entry.IsMap() ? "a map of " + std::to_string(entry.size()) + " keys"
                              : DescribeNode(entry)));
  }
  const YAML::Node key = entry.begin()->first;
  const std::string name = key.IsScalar() ? key.Scalar() : "";
  const auto known = std::find(names.begin(), names.end(), name);
  if (known != names.end()) return known - names.begin();
  FailAt(
      source, key,
      UnknownNameMessage(what, name, names, " in '" + path + "'") + "; valid: " + JoinNames(names));
}

std::string ScalarOf(const std::string& source, const std::string& name, const YAML::Node& value,
                     std::string_view expectation) {
  if (!value.IsScalar() || value.Scalar().empty())
    FailAt(source, value,
           "'" + name + "' must be " + std::string(expectation) + ", got " + DescribeNode(value));
  return value.Scalar();
}

std::optional<uint32_t> Number(std::string_view text) {
  uint32_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

bool IsLowerHex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

ProcessSelector ParseSelector(const std::string& source, const std::string& path,
                              const YAML::Node& entry) {
  const auto kind =
      static_cast<SelectorKind>(EntryKey(source, path, entry, kSelectorKeys, "selector"));
  const std::string name(kSelectorKeys[static_cast<size_t>(kind)]);
  const YAML::Node value = entry.begin()->second;
  ProcessSelector selector;
  selector.kind = kind;
  const auto fail = [&](const std::string& message) { FailAt(source, value, message); };
  switch (kind) {
    case SelectorKind::kPid: {
      selector.text = ScalarOf(source, name, value, "a process id");
      const std::optional<uint32_t> pid = Number(selector.text);
      if (!pid || *pid == 0 || *pid > kMaxPid)
        fail("'pid' must be a process id from 1 to " + std::to_string(kMaxPid) + ", got '" +
             selector.text + "'");
      selector.pid = *pid;
      break;
    }
    case SelectorKind::kComm:
      selector.text = ScalarOf(source, name, value, "a process name");
      if (selector.text.size() > kMaxComm)
        fail("'comm' is at most 15 characters (the kernel cuts process names there), got '" +
             selector.text + "' (" + std::to_string(selector.text.size()) +
             "); use comm_regex for a prefix");
      break;
    case SelectorKind::kCommRegex:
      selector.text = ScalarOf(source, name, value, "a regular expression");
      try {
        // libstdc++'s polynomial (breadth-first) matcher: the default one backtracks, and a
        // pattern like "(g*)*x" took minutes on a 15-character comm, stalling the target
        // thread (found by test/fuzz, corpus/targets/regression-regex-backtracking). It has
        // no back-references, which compile to an error here.
        selector.regex = std::make_shared<const std::regex>(
            selector.text, std::regex::ECMAScript | std::regex_constants::__polynomial);
      } catch (const std::regex_error& error) {
        fail("'comm_regex' is not a valid regular expression: '" + selector.text +
             "': " + error.what());
      }
      break;
    case SelectorKind::kExe:
      selector.text = ScalarOf(source, name, value, "an absolute path or glob");
      if (selector.text.front() != '/')
        fail("'exe' must be an absolute path or glob like /usr/sbin/*, got '" + selector.text +
             "'");
      break;
    case SelectorKind::kCgroup:
      selector.text = ScalarOf(source, name, value, "a cgroup path or glob");
      if (selector.text.front() != '/')
        fail(
            "'cgroup' is a path under the cgroup v2 root starting with '/', like "
            "/system.slice/nginx.service, got '" +
            selector.text + "'");
      break;
    case SelectorKind::kUnit:
      selector.text = ScalarOf(source, name, value, "a systemd unit name");
      if (std::none_of(kUnitSuffixes.begin(), kUnitSuffixes.end(),
                       [&](std::string_view s) { return selector.text.ends_with(s); }) ||
          selector.text.find('/') != std::string::npos)
        fail("'unit' must be a systemd unit name ending in .service, .scope or .slice, got '" +
             selector.text + "'");
      break;
    case SelectorKind::kContainer:
      selector.text = ScalarOf(source, name, value, "a container id");
      if (selector.text.size() < kMinContainerId || selector.text.size() > kContainerIdLength ||
          !IsLowerHex(selector.text))
        fail(
            "'container' must be a container id or its prefix: 12 to 64 lowercase hex digits, "
            "got '" +
            selector.text + "'");
      break;
  }
  return selector;
}

// "80" or "8000-8099".
void ParsePorts(const std::string& source, const std::string& name, const YAML::Node& value,
                ConnectionFilter& filter) {
  const std::string expectation = "a port (1 to 65535) or a range like 8000-8099";
  filter.text = ScalarOf(source, name, value, expectation);
  const size_t dash = filter.text.find('-');
  const std::optional<uint32_t> first = Number(std::string_view(filter.text).substr(0, dash));
  const std::optional<uint32_t> last =
      dash == std::string::npos ? first : Number(std::string_view(filter.text).substr(dash + 1));
  if (!first || !last || *first == 0 || *last > 65535 || *first > *last)
    FailAt(source, value, "'" + name + "' must be " + expectation + ", got '" + filter.text + "'");
  filter.first_port = static_cast<uint16_t>(*first);
  filter.last_port = static_cast<uint16_t>(*last);
}

void ParseCidr(const std::string& source, const YAML::Node& value, ConnectionFilter& filter) {
  filter.text = ScalarOf(source, "remote_cidr", value, "a CIDR like 10.0.0.0/8 or fd00::/8");
  if (const std::string error = ParseCidrText(filter.text, filter.address, filter.prefix_length);
      !error.empty())
    FailAt(source, value, "'remote_cidr' " + error + ", got '" + filter.text + "'");
}

ConnectionFilter ParseFilter(const std::string& source, const std::string& path,
                             const YAML::Node& entry) {
  ConnectionFilter filter;
  filter.kind = static_cast<FilterKind>(EntryKey(source, path, entry, kFilterKeys, "filter"));
  const YAML::Node value = entry.begin()->second;
  if (filter.kind == FilterKind::kRemoteCidr) {
    ParseCidr(source, value, filter);
  } else {
    ParsePorts(source, std::string(kFilterKeys[static_cast<size_t>(filter.kind)]), value, filter);
  }
  return filter;
}

// A section of two lists, include and exclude; calls parse(path, entry) for every entry.
template <typename Item, typename Parse>
void ParseLists(const std::string& source, const std::string& section, const YAML::Node& value,
                std::vector<Item>& include, std::vector<Item>& exclude, Parse parse) {
  if (value.IsNull()) return;
  if (!value.IsMap()) {
    FailAt(source, value,
           "'" + section + "' must be a map with include and exclude lists, got " +
               DescribeNode(value));
  }
  bool seen[2] = {false, false};
  for (const auto& list : value) {
    const std::string name = list.first.IsScalar() ? list.first.Scalar() : "";
    const auto known = std::find(kListKeys.begin(), kListKeys.end(), name);
    if (known == kListKeys.end()) {
      std::string message = "unknown key '" + name + "' in '" + section + "'";
      if (std::string_view closest = ClosestName(name, kListKeys); !closest.empty())
        message += " (did you mean '" + std::string(closest) + "'?)";
      FailAt(source, list.first, message + "; valid keys in '" + section + "': include, exclude");
    }
    const size_t index = known - kListKeys.begin();
    const std::string path = section + "." + name;
    if (seen[index]) FailAt(source, list.first, "duplicate key '" + path + "'");
    seen[index] = true;
    if (list.second.IsNull()) continue;
    if (!list.second.IsSequence())
      FailAt(source, list.second,
             "'" + path + "' must be a list, got " + DescribeNode(list.second));
    for (const auto& entry : list.second)
      (index == 0 ? include : exclude).push_back(parse(path, entry));
  }
}

template <typename Item, typename Predicate>
size_t CountOf(const std::vector<Item>& a, const std::vector<Item>& b, Predicate predicate) {
  return std::count_if(a.begin(), a.end(), predicate) +
         std::count_if(b.begin(), b.end(), predicate);
}

}  // namespace

std::string ParseCidrText(const std::string& text, std::array<uint8_t, 16>& address,
                          uint8_t& prefix_length) {
  address = {};
  const size_t slash = text.find('/');
  const std::string host = text.substr(0, slash);
  uint32_t max_prefix = 128;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    address[10] = address[11] = 0xff;  // ::ffff:a.b.c.d
    std::memcpy(address.data() + 12, &v4, 4);
    max_prefix = 32;
  } else if (inet_pton(AF_INET6, host.c_str(), address.data()) != 1) {
    return "must be an IPv4 or IPv6 address with an optional /prefix, like 10.0.0.0/8 or fd00::/8";
  }
  std::optional<uint32_t> prefix = max_prefix;
  if (slash != std::string::npos) prefix = Number(std::string_view(text).substr(slash + 1));
  if (!prefix || *prefix > max_prefix)
    return "needs a prefix length from 0 to " + std::to_string(max_prefix);
  prefix_length = static_cast<uint8_t>(*prefix + (128 - max_prefix));
  for (uint32_t bit = prefix_length; bit < 128; ++bit) {
    if (address[bit / 8] & (0x80 >> (bit % 8)))
      return "has bits set beyond its /" + std::to_string(*prefix) + " prefix";
  }
  return "";
}

TargetsConfig ParseTargets(const std::string& source, const YAML::Node& value,
                           const std::string& section) {
  TargetsConfig targets;
  ParseLists(source, section, value, targets.include, targets.exclude,
             [&](const std::string& path, const YAML::Node& entry) {
               return ParseSelector(source, path, entry);
             });
  const auto count = [&](SelectorKind kind) {
    return CountOf(targets.include, targets.exclude,
                   [&](const ProcessSelector& s) { return s.kind == kind; });
  };
  if (count(SelectorKind::kPid) > kMaxPidSelectors ||
      count(SelectorKind::kComm) > kMaxCommSelectors)
    FailAt(source, value,
           "'" + section + "' allows at most " + std::to_string(kMaxPidSelectors) + " pid and " +
               std::to_string(kMaxCommSelectors) + " comm selectors");
  return targets;
}

FiltersConfig ParseFilters(const std::string& source, const YAML::Node& value) {
  FiltersConfig filters;
  ParseLists(source, "filters", value, filters.include, filters.exclude,
             [&](const std::string& path, const YAML::Node& entry) {
               return ParseFilter(source, path, entry);
             });
  const size_t cidrs = CountOf(filters.include, filters.exclude, [](const ConnectionFilter& f) {
    return f.kind == FilterKind::kRemoteCidr;
  });
  if (cidrs > kMaxCidrFilters)
    FailAt(source, value,
           "'filters' allows at most " + std::to_string(kMaxCidrFilters) + " remote_cidr entries");
  return filters;
}

}  // namespace netlens
