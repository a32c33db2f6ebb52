#include "process/service_rules.h"

#include <fnmatch.h>

namespace netlens {
namespace {

bool GlobMatches(const std::string& pattern, const std::string& text) {
  return pattern.empty() || fnmatch(pattern.c_str(), text.c_str(), 0) == 0;
}

}  // namespace

std::string MatchService(const std::vector<ServiceRule>& rules, const std::string& comm,
                         const std::string& exe, const std::string& cgroup, uint16_t port) {
  for (const ServiceRule& rule : rules) {
    if (!rule.comm.empty() && rule.comm != comm) continue;
    if (rule.port != 0 && rule.port != port) continue;
    if (!GlobMatches(rule.exe, exe) || !GlobMatches(rule.cgroup, cgroup)) continue;
    return rule.name;
  }
  return "";
}

}  // namespace netlens
