// Parses the `nginx_phases` section; config/examples/http.yaml shows it.
#include "nginx/nginx_config.h"

#include <yaml-cpp/yaml.h>

#include <array>
#include <charconv>
#include <string_view>

#include "config/yaml_walk.h"
#include "http/http_config.h"

namespace netlens::nginx {

NginxPhasesConfig ParseNginxPhases(const std::string& source, const YAML::Node& value) {
  NginxPhasesConfig config;
  if (value.IsNull()) return config;
  const std::string section = "nginx_phases";
  if (!value.IsMap()) YamlField(source, section, value, value).FailExpected("a map");
  constexpr std::array<std::string_view, 4> kKeys = {"processes", "builds", "routes",
                                                     "route_budget"};
  ForEachKey(source, value, section, {kKeys}, [&](size_t index, const YamlField& field) {
    if (index == 0) {
      config.processes = ParseTargets(source, field.value(), field.path());
    } else if (index == 1) {
      config.builds = ParseBuilds(source, field.value());
    } else if (index == 2) {
      if (field.value().IsNull()) return;
      if (!field.value().IsSequence()) field.FailExpected("a list of route patterns");
      for (size_t i = 0; i < field.value().size(); ++i) {
        const YAML::Node node = field.value()[i];
        const YamlField entry(source, field.path() + "[" + std::to_string(i) + "]", node, node);
        const std::string& pattern = entry.NonEmptyScalar("a route pattern");
        if (const std::string error = http::RoutePatternError(pattern); !error.empty())
          entry.Fail("'" + entry.path() + "': " + error + ", got '" + pattern + "'");
        config.routes.push_back(pattern);
      }
    } else {
      const std::string& text = field.Scalar("a positive integer");
      uint32_t budget = 0;
      const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), budget);
      if (text.empty() || end != text.data() + text.size() || error != std::errc() || budget < 1 ||
          budget > http::kMaxRouteBudget)
        field.Fail("'" + field.path() + "' must be between 1 and " +
                   std::to_string(http::kMaxRouteBudget) + ", got " + text);
      config.route_budget = budget;
    }
  });
  return config;
}

}  // namespace netlens::nginx
