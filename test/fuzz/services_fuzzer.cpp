// Fuzz target: `services` rules, parsed by daemon/config/config.cpp and matched by
// daemon/process/service_rules.cpp (fnmatch globs on exe and cgroup). The input is a config file;
// each parsed rule is matched against its own fields and against typical process metadata.
// Contract: the match is "" or the name of a rule, and a rule without globs matches its own
// comm and port.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "fuzz_check.h"
#include "process/service_rules.h"

namespace {

bool IsRuleName(const std::vector<netlens::ServiceRule>& rules, const std::string& name) {
  for (const netlens::ServiceRule& rule : rules)
    if (rule.name == name) return true;
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  netlens::Config config;
  try {
    config = netlens::ParseConfig(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
  } catch (const netlens::ConfigError&) {
    return 0;  // config_fuzzer covers the errors
  }
  const std::vector<netlens::ServiceRule>& rules = config.labels.services;
  for (const netlens::ServiceRule& rule : rules) {
    const std::string own =
        netlens::MatchService(rules, rule.comm, rule.exe, rule.cgroup, rule.port);
    NETLENS_FUZZ_CHECK(own.empty() || IsRuleName(rules, own));
    if (rule.exe.empty() && rule.cgroup.empty()) NETLENS_FUZZ_CHECK(!own.empty());
    const std::string typical = netlens::MatchService(rules, "nginx", "/usr/sbin/nginx",
                                                      "/system.slice/nginx.service", 443);
    NETLENS_FUZZ_CHECK(typical.empty() || IsRuleName(rules, typical));
  }
  return 0;
}
