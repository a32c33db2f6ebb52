#include "config/yaml_errors.h"

#include "config/config.h"

namespace netlens {

std::string YamlPlace(const std::string& source, const YAML::Mark& mark) {
  if (mark.is_null()) return source;
  return source + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

void FailAtMark(const std::string& source, const YAML::Mark& mark, const std::string& message) {
  throw ConfigError(YamlPlace(source, mark) + ": " + message);
}

std::string DescribeNode(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return "'" + node.Scalar() + "'";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    default:
      return "an empty value";
  }
}

}  // namespace netlens
