// The `service` label: config rules matched on comm, executable, cgroup and port.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"

namespace netlens {

// The name of the first rule whose conditions all hold, or "" when none does.
// exe and cgroup conditions are fnmatch globs ('*' also matches '/').
std::string MatchService(const std::vector<ServiceRule>& rules, const std::string& comm,
                         const std::string& exe, const std::string& cgroup, uint16_t port);

}  // namespace netlens
