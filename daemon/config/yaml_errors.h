// How every YAML file netlens reads (config, web config, targets) phrases its errors.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

namespace netlens {

// "SOURCE:LINE:COLUMN" (1-based), or "SOURCE" when the mark has no position.
std::string YamlPlace(const std::string& source, const YAML::Mark& mark);

// Throws ConfigError("SOURCE:LINE:COLUMN: message").
[[noreturn]] void FailAtMark(const std::string& source, const YAML::Mark& mark,
                             const std::string& message);

// How a node of the wrong shape is named in "must be X, got Y": 'text', a list, a map or an
// empty value.
std::string DescribeNode(const YAML::Node& node);

}  // namespace netlens
