// Parses the `service_map` section; config/examples/http.yaml shows it.
#include "topology/service_map_config.h"

#include <yaml-cpp/yaml.h>

#include <string_view>

#include "config/yaml_walk.h"
#include "targets/target_config.h"

namespace netlens::topology {
namespace {

RemoteName ParseRemoteName(const std::string& source, const std::string& path,
                           const YAML::Node& node) {
  RemoteName rule;
  if (!node.IsMap()) YamlField(source, path, node, node).FailExpected("a map with cidr and name");
  constexpr std::array<std::string_view, 2> kKeys = {"cidr", "name"};
  bool has_cidr = false, has_name = false;
  ForEachKey(source, node, path, {kKeys}, [&](size_t index, const YamlField& field) {
    if (index == 0) {
      rule.cidr = field.NonEmptyScalar("a CIDR like 10.0.0.0/8 or fd00::/8");
      if (const std::string error = ParseCidrText(rule.cidr, rule.address, rule.prefix_length);
          !error.empty())
        field.Fail("'" + field.path() + "' " + error + ", got '" + rule.cidr + "'");
      has_cidr = true;
    } else {
      rule.name = field.NonEmptyScalar("a name");
      has_name = true;
    }
  });
  if (!has_cidr || !has_name)
    YamlField(source, path, node, node).Fail("'" + path + "' needs both cidr and name");
  return rule;
}

}  // namespace

ServiceMapConfig ParseServiceMap(const std::string& source, const YAML::Node& value) {
  ServiceMapConfig config;
  if (value.IsNull()) return config;
  const std::string section = "service_map";
  if (!value.IsMap()) YamlField(source, section, value, value).FailExpected("a map");
  constexpr std::array<std::string_view, 2> kKeys = {"enabled", "remote_names"};
  ForEachKey(source, value, section, {kKeys}, [&](size_t index, const YamlField& field) {
    if (index == 0) {
      config.enabled = field.Boolean();
      return;
    }
    if (field.value().IsNull()) return;
    if (!field.value().IsSequence()) field.FailExpected("a list of {cidr, name}");
    if (field.value().size() > kMaxRemoteNames)
      field.Fail("'" + field.path() + "' has " + std::to_string(field.value().size()) +
                 " entries, at most " + std::to_string(kMaxRemoteNames) + " are allowed");
    for (size_t i = 0; i < field.value().size(); ++i)
      config.remote_names.push_back(
          ParseRemoteName(source, field.path() + "[" + std::to_string(i) + "]", field.value()[i]));
  });
  return config;
}

const std::string* RemoteNameOf(const std::vector<RemoteName>& rules, const uint8_t address[16]) {
  for (const RemoteName& rule : rules) {
    bool inside = true;
    for (uint32_t bit = 0; bit < rule.prefix_length && inside; ++bit) {
      const uint8_t mask = 0x80 >> (bit % 8);
      inside = (address[bit / 8] & mask) == (rule.address[bit / 8] & mask);
    }
    if (inside) return &rule.name;
  }
  return nullptr;
}

}  // namespace netlens::topology
