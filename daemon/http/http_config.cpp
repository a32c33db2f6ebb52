// Parses the `http_requests` section; config/examples/http.yaml shows it whole.
#include "http/http_config.h"

#include <yaml-cpp/yaml.h>

#include <array>
#include <charconv>
#include <string_view>

#include "config/yaml_walk.h"

namespace netlens::http {
namespace {

constexpr std::string_view kSection = "http_requests";

uint32_t ParseBound(const YamlField& field, uint32_t min, uint32_t max) {
  const std::string& text = field.Scalar("a positive integer");
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || end != text.data() + text.size() || error != std::errc()) {
    field.FailExpected("a positive integer");
  }
  if (value < min || value > max) {
    field.Fail("'" + field.path() + "' must be between " + std::to_string(min) + " and " +
               std::to_string(max) + ", got " + text);
  }
  return static_cast<uint32_t>(value);
}

void ParseLimits(const YamlField& field, HttpRequestsConfig& config) {
  if (field.value().IsNull()) return;
  if (!field.value().IsMap()) field.FailExpected("a map");
  constexpr std::array<std::string_view, 2> kKeys = {"connections", "pending_requests"};
  ForEachKey(field.source(), field.value(), field.path(), {kKeys},
             [&](size_t index, const YamlField& value) {
               if (index == 0) {
                 config.connections = ParseBound(value, 1, kMaxHttpConnections);
               } else {
                 config.pending_requests = ParseBound(value, 1, kMaxPendingRequests);
               }
             });
}

std::vector<std::string> ParsePatterns(const YamlField& field) {
  if (!field.value().IsSequence()) field.FailExpected("a list of route patterns");
  std::vector<std::string> patterns;
  for (size_t i = 0; i < field.value().size(); ++i) {
    const YAML::Node node = field.value()[i];
    const YamlField entry(field.source(), field.path() + "[" + std::to_string(i) + "]", node, node);
    const std::string& pattern = entry.NonEmptyScalar("a route pattern");
    if (const std::string error = RoutePatternError(pattern); !error.empty()) {
      entry.Fail("'" + entry.path() + "': " + error + ", got '" + pattern + "'");
    }
    patterns.push_back(pattern);
  }
  return patterns;
}

void ParseRoutes(const YamlField& field, HttpRequestsConfig& config) {
  if (field.value().IsNull()) return;
  if (!field.value().IsSequence()) field.FailExpected("a list of {service, patterns}");
  for (size_t i = 0; i < field.value().size(); ++i) {
    const YAML::Node node = field.value()[i];
    const YamlField entry(field.source(), field.path() + "[" + std::to_string(i) + "]", node, node);
    if (!node.IsMap()) entry.FailExpected("a map (service, patterns)");
    ServiceRoutes routes;
    constexpr std::array<std::string_view, 2> kKeys = {"service", "patterns"};
    ForEachKey(field.source(), node, entry.path(), {kKeys},
               [&](size_t index, const YamlField& value) {
                 if (index == 0) {
                   routes.service = value.NonEmptyScalar("a service name");
                 } else {
                   routes.patterns = ParsePatterns(value);
                 }
               });
    if (routes.service.empty()) entry.Fail("'" + entry.path() + "' needs a 'service'");
    for (const ServiceRoutes& earlier : config.routes) {
      if (earlier.service == routes.service) {
        entry.Fail("'" + entry.path() + "': service '" + routes.service + "' is listed twice");
      }
    }
    config.routes.push_back(std::move(routes));
  }
}

// `capture_hooks`: the names in CaptureHooks' order.
CaptureHooks ParseCaptureHooks(const YamlField& field) {
  constexpr std::array<std::string_view, 3> kNames = {"auto", "sock_length", "syscalls"};
  const std::string& text = field.Scalar("one of auto, sock_length, syscalls");
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (text == kNames[i]) return static_cast<CaptureHooks>(i);
  }
  field.Fail("'" + field.path() + "' must be one of auto, sock_length, syscalls, got '" + text +
             "'");
}

// `protocols`: a list of http, http2, mysql; http must be there (the section's own protocol).
void ParseProtocols(const YamlField& field, HttpRequestsConfig& config) {
  if (!field.value().IsSequence()) field.FailExpected("a list of protocols (http, http2, mysql)");
  bool http = false, http2 = false, mysql = false;
  for (size_t i = 0; i < field.value().size(); ++i) {
    const YAML::Node node = field.value()[i];
    const YamlField entry(field.source(), field.path() + "[" + std::to_string(i) + "]", node, node);
    const std::string& name = entry.Scalar("a protocol (http, http2, mysql)");
    if (name != "http" && name != "http2" && name != "mysql") {
      entry.Fail("'" + entry.path() + "' must be http, http2 or mysql, got '" + name + "'");
    }
    bool& seen = name == "http" ? http : name == "http2" ? http2 : mysql;
    if (seen) entry.Fail("'" + entry.path() + "': '" + name + "' is listed twice");
    seen = true;
  }
  if (!http) field.Fail("'" + field.path() + "' must list http (the section's own protocol)");
  config.http2 = http2;
  config.mysql = mysql;
}

}  // namespace

HttpRequestsConfig ParseHttpRequests(const std::string& source, const YAML::Node& value) {
  HttpRequestsConfig config;
  if (value.IsNull()) return config;
  const std::string section(kSection);
  if (!value.IsMap()) {
    YamlField(source, section, value, value).FailExpected("a map");
  }
  constexpr std::array<std::string_view, 7> kKeys = {
      "processes", "routes", "route_budget", "limits", "tls", "capture_hooks", "protocols"};
  ForEachKey(source, value, section, {kKeys}, [&](size_t index, const YamlField& field) {
    switch (index) {
      case 0:
        config.processes = ParseTargets(source, field.value(), field.path());
        break;
      case 1:
        ParseRoutes(field, config);
        break;
      case 2:
        config.route_budget = ParseBound(field, 1, kMaxRouteBudget);
        break;
      case 3:
        ParseLimits(field, config);
        break;
      case 4:
        config.tls = field.Boolean();
        break;
      case 5:
        config.capture_hooks = ParseCaptureHooks(field);
        break;
      default:
        ParseProtocols(field, config);
        break;
    }
  });
  return config;
}

}  // namespace netlens::http
