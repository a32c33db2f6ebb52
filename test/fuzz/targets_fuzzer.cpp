// Fuzz target: the `targets` and `filters` sections (daemon/targets/target_config.cpp), fed
// directly so that short inputs reach the selector and CIDR parsers. The input is a YAML document:
// its `targets`/`filters` values when it is a map that has them (the repo's config files), else the
// whole document for both. Contract: a parsed section or ConfigError; a comm_regex compiles and
// can be matched; ports and CIDR prefixes are in range.
#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <regex>
#include <string>
#include <string_view>

#include "config/config.h"
#include "fuzz_check.h"
#include "targets/target_config.h"

namespace {

YAML::Node SectionOf(const YAML::Node& root, const char* name) {
  if (root.IsMap()) {
    for (const auto& entry : root)
      if (entry.first.IsScalar() && entry.first.Scalar() == name) return entry.second;
  }
  return root;
}

void CheckTargets(const YAML::Node& value) {
  try {
    const netlens::TargetsConfig targets = netlens::ParseTargets("fuzz.yaml", value);
    for (const auto* list : {&targets.include, &targets.exclude}) {
      for (const netlens::ProcessSelector& selector : *list) {
        if (selector.kind == netlens::SelectorKind::kPid) NETLENS_FUZZ_CHECK(selector.pid > 0);
        if (selector.kind != netlens::SelectorKind::kCommRegex) continue;
        NETLENS_FUZZ_CHECK(selector.regex != nullptr);
        // What target_match.cpp does with it, on a comm of the kernel's longest (15).
        (void)std::regex_search("nginx: worker p", *selector.regex);
      }
    }
  } catch (const netlens::ConfigError& error) {
    NETLENS_FUZZ_CHECK(std::string_view(error.what()).starts_with("fuzz.yaml"));
  }
}

void CheckFilters(const YAML::Node& value) {
  try {
    const netlens::FiltersConfig filters = netlens::ParseFilters("fuzz.yaml", value);
    for (const auto* list : {&filters.include, &filters.exclude}) {
      for (const netlens::ConnectionFilter& filter : *list) {
        if (filter.kind == netlens::FilterKind::kRemoteCidr) {
          NETLENS_FUZZ_CHECK(filter.prefix_length <= 128);
        } else {
          NETLENS_FUZZ_CHECK(filter.first_port >= 1 && filter.first_port <= filter.last_port);
        }
      }
    }
  } catch (const netlens::ConfigError& error) {
    NETLENS_FUZZ_CHECK(std::string_view(error.what()).starts_with("fuzz.yaml"));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(reinterpret_cast<const char*>(data), size));
  } catch (const YAML::Exception&) {
    return 0;  // not YAML: config.cpp reports it before the sections are read
  }
  CheckTargets(SectionOf(root, "targets"));
  CheckFilters(SectionOf(root, "filters"));
  return 0;
}
