// Whether a process matches the `targets` selectors, from what /proc says about it. The kernel
// judges pid, comm and known cgroups itself (ebpf/filters.bpf.h); this is the same judgement for
// what only user space can read (comm_regex, exe, new cgroups) and for the initial scan.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "netlens.h"
#include "target_config.h"

namespace netlens {

// What selectors look at; unknown fields (the process is gone, or unreadable) match nothing.
struct ProcessFacts {
  uint32_t pid = 0;
  std::string comm;
  std::optional<std::string> exe;     // /proc/PID/exe
  std::optional<std::string> cgroup;  // cgroup v2 path from /proc/PID/cgroup ("0::/a/b")
};

// comm, exe and cgroup of a live process; fields it cannot read stay empty.
ProcessFacts ReadProcessFacts(uint32_t pid);
// Where the cgroup v2 hierarchy is mounted: /sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid
// hosts (from /proc/self/mounts); nothing if it is not mounted.
std::optional<std::string> CgroupV2Root();
// The cgroup v2 path in the text of /proc/PID/cgroup (the "0::" line), if there is one.
std::optional<std::string> CgroupV2Path(const std::string& proc_pid_cgroup);

// NL_MATCH_INCLUDE / NL_MATCH_EXCLUDE bits of every selector that matches.
uint8_t MatchProcess(const TargetsConfig& targets, const ProcessFacts& facts);
// Bits of the cgroup, unit and container selectors for a cgroup path: a selector that matches
// a cgroup matches everything below it.
uint8_t MatchCgroupPath(const TargetsConfig& targets, const std::string& path);
// Watched: an include matched (or there is no include list) and no exclude did.
bool IsWatched(const TargetsConfig& targets, uint8_t match);

}  // namespace netlens
