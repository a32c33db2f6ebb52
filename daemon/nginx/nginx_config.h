// The `nginx_phases` section of the config (issue 17): which processes are nginx workers whose
// requests are read at nginx's log phase, builds beyond the table compiled in, routes.
//
// Off by default: it puts one uprobe on each selected nginx binary, hit once per request
// (about 7 us of nginx CPU per request here, docs/performance.md). On when
// `processes.include` names processes (`comm: nginx`; openresty and other builds by comm or
// exe).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "http/routes.h"
#include "nginx/nginx_builds.h"
#include "targets/target_config.h"

namespace YAML {
class Node;
}

namespace netlens::nginx {

struct NginxPhasesConfig {
  // The targets selectors; an empty include list selects no process (off).
  TargetsConfig processes;
  std::vector<NginxBuild> builds;   // tried before KnownBuilds()
  std::vector<std::string> routes;  // route patterns (http/routes.h), matched in order
  uint32_t route_budget = http::kDefaultRouteBudget;  // heuristic routes beyond the patterns
  bool enabled() const { return !processes.include.empty(); }
};

// `value` is the section's value node; errors are ConfigError "SOURCE:LINE:COLUMN: message".
NginxPhasesConfig ParseNginxPhases(const std::string& source, const YAML::Node& value);

}  // namespace netlens::nginx
