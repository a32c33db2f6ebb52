// Parses and validates the YAML configuration; config/netlens.yaml documents every key.
#include "config/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <vector>

#include "app/cli.h"  // ValidateListenAddress: the config and --listen accept the same addresses
#include "config/yaml_walk.h"

namespace netlens {
namespace {

// Kernel map sizes above this waste memory for no realistic host; the bound also keeps the
// loader's entries * value_size arithmetic far from overflow.
constexpr uint32_t kMaxMapEntries = 1u << 24;
constexpr uint32_t kMinSeriesPerFamily = 2;  // one real series plus the "other" fold
constexpr uint32_t kMaxSeriesPerFamily = 1000000;
// A year: a longer TTL is surely a unit mistake, and the bound keeps the arithmetic exact.
constexpr uint64_t kMaxDurationHours = 24 * 365;
constexpr uint64_t kMaxDurationSeconds = kMaxDurationHours * 3600;

// Indexed by Level.
constexpr std::array<std::string_view, 3> kLevelNames = {"process", "remote", "connection"};

[[noreturn]] void Fail(const std::string& source, const YAML::Mark& mark,
                       const std::string& message) {
  FailAtMark(source, mark, message);
}

using Field = YamlField;

// Decimal digits only (no sign, no 0x). Saturates at the uint64_t maximum, which every range
// check then rejects, quoting the text as written.
std::optional<uint64_t> ParseDigits(std::string_view text) {
  const char* const end = text.data() + text.size();
  uint64_t value = 0;
  const auto [parsed_end, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || parsed_end != end) return std::nullopt;
  if (error == std::errc::result_out_of_range) return std::numeric_limits<uint64_t>::max();
  return value;
}

uint32_t ParseCount(const Field& field, uint32_t min, uint32_t max) {
  constexpr std::string_view kExpectation = "a positive integer";
  const std::string& text = field.Scalar(kExpectation);
  const std::optional<uint64_t> value = ParseDigits(text);
  if (!value) field.FailExpected(kExpectation);
  if (*value < min || *value > max) {
    field.Fail("'" + field.path() + "' must be between " + std::to_string(min) + " and " +
               std::to_string(max) + ", got " + text);
  }
  return static_cast<uint32_t>(*value);
}

constexpr uint64_t kNanosPerSecond = 1'000'000'000;
constexpr uint64_t kMaxDurationNanos = kMaxDurationSeconds * kNanosPerSecond;

// Seconds ("300"), or numbers with units h, m, s, ms, us, ns in that order, each at most once
// ("90s", "5m", "1h30m", "250ms", "1s500ms"). Values beyond kMaxDurationNanos come back as
// kMaxDurationNanos + 1.
std::optional<uint64_t> ParseDurationNanos(std::string_view text) {
  constexpr uint64_t kCap = kMaxDurationNanos + 1;
  if (std::optional<uint64_t> seconds = ParseDigits(text))
    return std::min(*seconds, kMaxDurationSeconds + 1) * kNanosPerSecond;
  struct Unit {
    std::string_view suffix;
    uint64_t nanos;
  };
  constexpr Unit kUnits[] = {{"h", 3600 * kNanosPerSecond},
                             {"m", 60 * kNanosPerSecond},
                             {"s", kNanosPerSecond},
                             {"ms", 1'000'000},
                             {"us", 1'000},
                             {"ns", 1}};
  const Unit* next_unit = std::begin(kUnits);
  uint64_t total = 0;
  do {
    const size_t digits_end = text.find_first_not_of("0123456789");
    if (digits_end == 0 || digits_end == std::string_view::npos) return std::nullopt;
    const std::string_view suffix =
        text.substr(digits_end, text.find_first_of("0123456789", digits_end) - digits_end);
    const Unit* unit = std::find_if(next_unit, std::end(kUnits),
                                    [&](const Unit& u) { return u.suffix == suffix; });
    if (unit == std::end(kUnits)) return std::nullopt;
    const uint64_t number = std::min(*ParseDigits(text.substr(0, digits_end)), kCap);
    total = std::min(total + std::min(number, kCap / unit->nanos + 1) * unit->nanos, kCap);
    next_unit = unit + 1;
    text.remove_prefix(digits_end + suffix.size());
  } while (!text.empty());
  return total;
}

// A duration in whole seconds; values far beyond kMaxDurationSeconds come back capped, still
// beyond it.
std::optional<uint64_t> ParseDurationSeconds(std::string_view text) {
  const std::optional<uint64_t> nanos = ParseDurationNanos(text);
  if (!nanos) return std::nullopt;
  if (*nanos > kMaxDurationNanos) return kMaxDurationSeconds + 1;
  if (*nanos % kNanosPerSecond != 0) return std::nullopt;
  return *nanos / kNanosPerSecond;
}

// A duration of `field`, greater than 0 and at most `max` (in the unit `parse` returns;
// max_text says it in the error).
uint64_t ParsePositiveDuration(const Field& field, std::string_view expectation,
                               std::optional<uint64_t> (*parse)(std::string_view), uint64_t max,
                               const std::string& max_text) {
  const std::string& text = field.Scalar(expectation);
  const std::optional<uint64_t> value = parse(text);
  if (!value) field.FailExpected(expectation);
  if (*value == 0) field.Fail("'" + field.path() + "' must be greater than 0, got " + text);
  if (*value > max)
    field.Fail("'" + field.path() + "' must be at most " + max_text + ", got " + text);
  return *value;
}

std::chrono::seconds ParseDuration(const Field& field) {
  return std::chrono::seconds(ParsePositiveDuration(
      field, "a duration in seconds or like 90s, 5m, 1h30m", ParseDurationSeconds,
      kMaxDurationSeconds, std::to_string(kMaxDurationHours) + "h"));
}

// Returns the index of the value in `allowed`.
size_t ParseChoice(const Field& field, std::span<const std::string_view> allowed) {
  const std::string expectation = "one of " + JoinNames(allowed);
  const std::string& text = field.Scalar(expectation);
  const auto match = std::find(allowed.begin(), allowed.end(), text);
  if (match != allowed.end()) return match - allowed.begin();
  std::string message = "'" + field.path() + "' must be " + expectation + ", got '" + text + "'";
  if (std::string_view closest = ClosestName(text, allowed); !closest.empty()) {
    message += " (did you mean '" + std::string(closest) + "'?)";
  }
  field.Fail(message);
}

std::string ParseLogLevel(const Field& field) {
  return std::string(kLogLevelNames[ParseChoice(field, kLogLevelNames)]);
}

std::string ParseAttachMode(const Field& field) {
  return std::string(kAttachModeNames[ParseChoice(field, kAttachModeNames)]);
}

std::string ParseAccounting(const Field& field) {
  return std::string(kAccountingNames[ParseChoice(field, kAccountingNames)]);
}

Level ParseLevel(const Field& field) { return static_cast<Level>(ParseChoice(field, kLevelNames)); }

std::string ParseFilePath(const Field& field) {
  const std::string& text = field.Scalar("a file path");
  if (text.empty()) field.FailExpected("a file path");
  return text;
}

std::string ParseListen(const Field& field) {
  const std::string& text = field.Scalar("an address like \"127.0.0.1:9750\" or \"[::1]:9750\"");
  try {
    ValidateListenAddress(text);
  } catch (const std::invalid_argument& error) {
    field.Fail(error.what());
  }
  return text;
}

// Walks the map `node` of the section `section` ("" for the top level) and calls
// apply(entry, field) with the `table` entry named by each key (yaml_walk.h checks the keys).
template <typename Entry, size_t N, typename Apply>
void ParseSection(const std::string& source, const YAML::Node& node, const std::string& section,
                  const std::array<Entry, N>& table, Apply apply) {
  std::array<std::string_view, N> names;
  std::transform(table.begin(), table.end(), names.begin(), [](const Entry& e) { return e.name; });
  ForEachKey(source, node, section, {names},
             [&](size_t index, const Field& field) { apply(table[index], field); });
}

struct LimitKey {
  std::string_view name;
  uint32_t Limits::*member;
  uint32_t min;
  uint32_t max;
};
constexpr std::array<LimitKey, 8> kLimitKeys = {{
    {"connections", &Limits::connections, 1, kMaxMapEntries},
    {"aggregates", &Limits::aggregates, 1, kMaxMapEntries},
    {"closed_connections", &Limits::closed_connections, 1, kMaxMapEntries},
    {"listeners", &Limits::listeners, 1, kMaxMapEntries},
    {"series_per_family", &Limits::series_per_family, kMinSeriesPerFamily, kMaxSeriesPerFamily},
    {"processes", &Limits::processes, 1, kMaxMapEntries},
    {"target_processes", &Limits::target_processes, 1, kMaxMapEntries},
    {"target_cgroups", &Limits::target_cgroups, 1, kMaxMapEntries},
}};

void ParseLimits(const Field& field, Limits& limits) {
  // "limits:" with every entry commented out keeps the defaults, like an empty file does.
  if (field.value().IsNull()) return;
  if (!field.value().IsMap()) field.FailExpected("a map");
  ParseSection(field.source(), field.value(), field.path(), kLimitKeys,
               [&](const LimitKey& key, const Field& value) {
                 limits.*key.member = ParseCount(value, key.min, key.max);
               });
}

// The largest finite bucket bound the kernel keeps (netlens.h): 2^(NL_HIST_BUCKETS - 2 +
// NL_HIST_SHIFT) ns, about 18m20s. Written out here: config.cpp does not include netlens.h.
constexpr uint64_t kMaxLatencyBucketNanos = 1ULL << 40;

std::chrono::nanoseconds ParseLatencyBound(const Field& field) {
  return std::chrono::nanoseconds(ParsePositiveDuration(
      field, "a duration like 1us, 250ms, 60s, 2m", ParseDurationNanos, kMaxLatencyBucketNanos,
      "1099511627776ns (18m19.5s, the kernel's largest bucket)"));
}

struct LatencyBucketKey {
  std::string_view name;
  std::chrono::nanoseconds LatencyBuckets::*member;
};
constexpr std::array<LatencyBucketKey, 2> kLatencyBucketKeys = {{
    {"min", &LatencyBuckets::min},
    {"max", &LatencyBuckets::max},
}};

void ParseLatencyBuckets(const Field& field, LatencyBuckets& buckets) {
  if (field.value().IsNull()) return;
  if (!field.value().IsMap()) field.FailExpected("a map with min and max");
  LatencyBuckets parsed = buckets;
  ParseSection(field.source(), field.value(), field.path(), kLatencyBucketKeys,
               [&](const LatencyBucketKey& key, const Field& value) {
                 parsed.*key.member = ParseLatencyBound(value);
               });
  if (parsed.min >= parsed.max) {
    field.Fail("'" + field.path() + ".min' (" + std::to_string(parsed.min.count()) +
               "ns) must be below '" + field.path() + ".max' (" +
               std::to_string(parsed.max.count()) + "ns)");
  }
  buckets = parsed;
}

// ---- http: deadlines and connection bounds of the endpoint ----

// At most an hour: a client may not hold a connection longer than that without a response.
constexpr uint64_t kMaxHttpTimeoutNanos = 3600 * kNanosPerSecond;
constexpr uint64_t kNanosPerMilli = 1'000'000;
// Bounded by the file descriptors a process can hold.
constexpr uint32_t kMaxHttpConnections = 1u << 20;

std::chrono::milliseconds ParseHttpTimeout(const Field& field) {
  const uint64_t nanos = ParsePositiveDuration(field, "a duration like 500ms, 5s, 1m",
                                               ParseDurationNanos, kMaxHttpTimeoutNanos, "1h");
  if (nanos % kNanosPerMilli != 0) {
    field.Fail("'" + field.path() + "' must be whole milliseconds, got " + field.value().Scalar());
  }
  return std::chrono::milliseconds(nanos / kNanosPerMilli);
}

struct HttpKey {
  std::string_view name;
  void (*parse)(const Field& field, HttpSettings& http);
};
constexpr std::array<HttpKey, 4> kHttpKeys = {{
    {"request_header_timeout",
     [](const Field& f, HttpSettings& h) { h.request_header_timeout = ParseHttpTimeout(f); }},
    {"request_timeout",
     [](const Field& f, HttpSettings& h) { h.request_timeout = ParseHttpTimeout(f); }},
    {"max_connections",
     [](const Field& f, HttpSettings& h) {
       h.max_connections = ParseCount(f, 1, kMaxHttpConnections);
     }},
    {"max_connections_per_peer",
     [](const Field& f, HttpSettings& h) {
       h.max_connections_per_peer = ParseCount(f, 1, kMaxHttpConnections);
     }},
}};

void ParseHttp(const Field& field, HttpSettings& http) {
  if (field.value().IsNull()) return;
  if (!field.value().IsMap()) field.FailExpected("a map");
  HttpSettings parsed = http;
  std::optional<Field> header_field, peer_field;
  ParseSection(field.source(), field.value(), field.path(), kHttpKeys,
               [&](const HttpKey& key, const Field& value) {
                 key.parse(value, parsed);
                 if (key.name == "request_header_timeout") header_field.emplace(value);
                 if (key.name == "max_connections_per_peer") peer_field.emplace(value);
               });
  // The header deadline is part of the request's, and a peer's share part of the total: a
  // bound left at its default follows the one set below it; two set at odds are an error.
  if (!header_field) {
    parsed.request_header_timeout = std::min(parsed.request_header_timeout, parsed.request_timeout);
  }
  if (!peer_field) {
    parsed.max_connections_per_peer =
        std::min(parsed.max_connections_per_peer, parsed.max_connections);
  }
  if (parsed.request_header_timeout > parsed.request_timeout) {
    header_field->Fail("'" + field.path() + ".request_header_timeout' (" +
                       std::to_string(parsed.request_header_timeout.count()) +
                       "ms) must not exceed '" + field.path() + ".request_timeout' (" +
                       std::to_string(parsed.request_timeout.count()) + "ms)");
  }
  if (parsed.max_connections_per_peer > parsed.max_connections) {
    peer_field->Fail("'" + field.path() + ".max_connections_per_peer' (" +
                     std::to_string(parsed.max_connections_per_peer) + ") must not exceed '" +
                     field.path() + ".max_connections' (" + std::to_string(parsed.max_connections) +
                     ")");
  }
  http = parsed;
}

// ---- labels, metadata, services (process metadata labels) ----

struct LabelKey {
  std::string_view name;
  bool LabelSettings::*member;
};
constexpr std::array<LabelKey, 11> kLabelKeys = {{
    {"pid", &LabelSettings::pid},
    {"exe", &LabelSettings::exe},
    {"cgroup", &LabelSettings::cgroup},
    {"container_id", &LabelSettings::container_id},
    {"pod", &LabelSettings::pod},
    {"namespace", &LabelSettings::k8s_namespace},
    {"systemd_unit", &LabelSettings::systemd_unit},
    {"netns", &LabelSettings::netns},
    {"netns_name", &LabelSettings::netns_name},
    {"service", &LabelSettings::service},
    {"instance", &LabelSettings::instance},
}};

void ParseLabels(const Field& field, LabelSettings& labels) {
  if (field.value().IsNull()) return;
  if (!field.value().IsMap()) field.FailExpected("a map");
  ParseSection(
      field.source(), field.value(), field.path(), kLabelKeys,
      [&](const LabelKey& key, const Field& value) { labels.*key.member = value.Boolean(); });
}

std::string ParseText(const Field& field, std::string_view expectation) {
  const std::string& text = field.Scalar(expectation);
  if (text.empty()) field.FailExpected(expectation);
  return text;
}

struct MetadataKey {
  std::string_view name;
  void (*parse)(const Field& field, LabelSettings& labels);
};
constexpr std::array<MetadataKey, 4> kMetadataKeys = {{
    {"instance",
     [](const Field& f, LabelSettings& l) { l.instance_value = ParseText(f, "a name"); }},
    {"pods_directory",
     [](const Field& f, LabelSettings& l) { l.pods_directory = ParseText(f, "a directory"); }},
    {"netns_directory",
     [](const Field& f, LabelSettings& l) { l.netns_directory = ParseText(f, "a directory"); }},
    {"refresh", [](const Field& f, LabelSettings& l) { l.refresh = ParseDuration(f); }},
}};

void ParseMetadata(const Field& field, LabelSettings& labels) {
  if (field.value().IsNull()) return;
  if (!field.value().IsMap()) field.FailExpected("a map");
  ParseSection(field.source(), field.value(), field.path(), kMetadataKeys,
               [&](const MetadataKey& key, const Field& value) { key.parse(value, labels); });
}

struct ServiceKey {
  std::string_view name;
  void (*parse)(const Field& field, ServiceRule& rule);
};
constexpr std::array<ServiceKey, 5> kServiceKeys = {{
    {"name", [](const Field& f, ServiceRule& r) { r.name = ParseText(f, "a service name"); }},
    {"comm", [](const Field& f, ServiceRule& r) { r.comm = ParseText(f, "a process name"); }},
    {"exe", [](const Field& f, ServiceRule& r) { r.exe = ParseText(f, "a path glob"); }},
    {"cgroup", [](const Field& f, ServiceRule& r) { r.cgroup = ParseText(f, "a cgroup glob"); }},
    {"port", [](const Field& f,
                ServiceRule& r) { r.port = static_cast<uint16_t>(ParseCount(f, 1, 65535)); }},
}};

void ParseServices(const Field& field, LabelSettings& labels) {
  if (field.value().IsNull()) return;
  if (!field.value().IsSequence()) field.FailExpected("a list of rules");
  for (size_t i = 0; i < field.value().size(); ++i) {
    const YAML::Node rule_node = field.value()[i];
    const Field rule_field(field.source(), field.path() + "[" + std::to_string(i) + "]", rule_node,
                           rule_node);
    if (!rule_node.IsMap()) rule_field.FailExpected("a map (name, comm, exe, cgroup, port)");
    ServiceRule rule;
    ParseSection(field.source(), rule_node, rule_field.path(), kServiceKeys,
                 [&](const ServiceKey& key, const Field& value) { key.parse(value, rule); });
    if (rule.name.empty()) rule_field.Fail("'" + rule_field.path() + "' needs a 'name'");
    labels.services.push_back(std::move(rule));
  }
}

struct SettingKey {
  std::string_view name;
  void (*parse)(const Field& field, Config& config);
};
constexpr std::array<SettingKey, 19> kSettingKeys = {{
    {"listen", [](const Field& f, Config& c) { c.listen = ParseListen(f); }},
    {"http", [](const Field& f, Config& c) { ParseHttp(f, c.http); }},
    {"log_level", [](const Field& f, Config& c) { c.log_level = ParseLogLevel(f); }},
    {"aggregation", [](const Field& f, Config& c) { c.level = ParseLevel(f); }},
    {"attach_mode", [](const Field& f, Config& c) { c.attach_mode = ParseAttachMode(f); }},
    {"accounting", [](const Field& f, Config& c) { c.accounting = ParseAccounting(f); }},
    {"process_ttl", [](const Field& f, Config& c) { c.process_ttl = ParseDuration(f); }},
    {"closed_connection_retention",
     [](const Field& f, Config& c) { c.closed_retention = ParseDuration(f); }},
    {"limits", [](const Field& f, Config& c) { ParseLimits(f, c.limits); }},
    {"latency_buckets",
     [](const Field& f, Config& c) { ParseLatencyBuckets(f, c.latency_buckets); }},
    {"web_config_file", [](const Field& f, Config& c) { c.web_config_file = ParseFilePath(f); }},
    {"labels", [](const Field& f, Config& c) { ParseLabels(f, c.labels); }},
    {"metadata", [](const Field& f, Config& c) { ParseMetadata(f, c.labels); }},
    {"services", [](const Field& f, Config& c) { ParseServices(f, c.labels); }},
    {"targets", [](const Field& f, Config& c) { c.targets = ParseTargets(f.source(), f.value()); }},
    {"filters", [](const Field& f, Config& c) { c.filters = ParseFilters(f.source(), f.value()); }},
    {"http_requests",
     [](const Field& f, Config& c) {
       c.http_requests = http::ParseHttpRequests(f.source(), f.value());
     }},
    {"nginx_phases",
     [](const Field& f, Config& c) {
       c.nginx_phases = nginx::ParseNginxPhases(f.source(), f.value());
     }},
    {"service_map",
     [](const Field& f, Config& c) {
       c.service_map = topology::ParseServiceMap(f.source(), f.value());
     }},
}};

}  // namespace

std::string_view LevelName(Level level) { return kLevelNames.at(static_cast<size_t>(level)); }

std::string JoinNames(std::span<const std::string_view> names) {
  std::string joined;
  for (std::string_view name : names) {
    if (!joined.empty()) joined += ", ";
    joined += name;
  }
  return joined;
}

std::string_view ClosestName(std::string_view word, std::span<const std::string_view> candidates) {
  // Optimal string alignment distance: Levenshtein plus adjacent transpositions ("lsiten").
  const auto distance = [](std::string_view a, std::string_view b) {
    std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
    for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      for (size_t j = 1; j <= b.size(); ++j) {
        const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
        d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
        if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
          d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
      }
    }
    return d[a.size()][b.size()];
  };
  constexpr size_t kMaxSuggestionDistance = 2;
  std::string_view closest;
  size_t closest_distance = kMaxSuggestionDistance + 1;
  for (std::string_view candidate : candidates) {
    if (const size_t d = distance(word, candidate); d < closest_distance) {
      closest = candidate;
      closest_distance = d;
    }
  }
  if (!closest.empty()) return closest;
  // Too many edits, but an abbreviation or an extension ("crit", "warning") is still a typo.
  constexpr size_t kMinPrefix = 3;
  for (std::string_view candidate : candidates) {
    const std::string_view shorter = word.size() < candidate.size() ? word : candidate;
    const std::string_view longer = word.size() < candidate.size() ? candidate : word;
    if (shorter.size() >= kMinPrefix && longer.starts_with(shorter)) return candidate;
  }
  return {};
}

Config ParseConfig(const std::string& yaml_text, const std::string& source_name) {
  Config config;
  config.source = source_name;
  const YAML::Node root = LoadSingleDocument(yaml_text, source_name);
  if (root.IsNull()) return config;  // empty, or only comments: all defaults
  if (!root.IsMap()) {
    Fail(source_name, root.Mark(),
         "the top level must be a map of settings (key: value lines), got " + DescribeNode(root));
  }
  ParseSection(source_name, root, "", kSettingKeys,
               [&](const SettingKey& key, const Field& field) { key.parse(field, config); });
  return config;
}

std::string ReadConfigText(const std::string& path, const std::string& what) {
  const auto cannot_read = [&] {
    return ConfigError(path + ": cannot read" + what + ": " + std::strerror(errno));
  };
  // stdio rather than ifstream: errno then says why (ENOENT, EACCES, EISDIR on the first read).
  const std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) throw cannot_read();
  std::string text;
  char buffer[4096];
  while (const size_t count = std::fread(buffer, 1, sizeof buffer, file.get())) {
    text.append(buffer, count);
  }
  if (std::ferror(file.get())) throw cannot_read();
  return text;
}

Config LoadConfigFile(const std::string& path) {
  Config config = ParseConfig(ReadConfigText(path, ""), path);
  // web_config_file is relative to the file that names it, wherever netlens runs from.
  if (config.web_config_file && config.web_config_file->front() != '/') {
    const size_t slash = path.rfind('/');
    if (slash != std::string::npos) {
      config.web_config_file = path.substr(0, slash + 1) + *config.web_config_file;
    }
  }
  return config;
}

Config DefaultConfig() {
  // Cannot throw: test_config.cpp parses the embedded text and compares it with Config{}.
  return ParseConfig(std::string(EmbeddedDefaultConfig()), "<embedded default>");
}

}  // namespace netlens
