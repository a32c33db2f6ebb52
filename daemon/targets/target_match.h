// Whether a process matches the `targets` selectors, from what /proc says about it. The kernel
// judges pid, comm and known cgroups itself (ebpf/filters.bpf.h); this is the same judgement for
// what only user space can read (comm_regex, exe, new cgroups) and for the initial scan.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "ebpf/targets/targets.h"
#include "process/process_info.h"
#include "targets/target_config.h"

namespace netlens {

// What selectors look at; unknown fields (the process is gone, or unreadable) match nothing.
struct ProcessFacts {
  uint32_t pid = 0;
  std::string comm;
  std::optional<std::string> exe;     // /proc/PID/exe
  std::optional<std::string> cgroup;  // cgroup v2 path from /proc/PID/cgroup ("0::/a/b")
};

// What selectors look at in a process's metadata (cgroup: its v2 path, what the kernel judges).
ProcessFacts FactsOf(const ProcessInfo& info);
// FactsOf a live process (ReadProcessInfo); a process that is gone has only its pid.
ProcessFacts ReadProcessFacts(uint32_t pid);

// NL_MATCH_INCLUDE / NL_MATCH_EXCLUDE bits of every selector that matches.
uint8_t MatchProcess(const TargetsConfig& targets, const ProcessFacts& facts);
// Bits of the cgroup, unit and container selectors for a cgroup path: a selector that matches
// a cgroup matches everything below it.
uint8_t MatchCgroupPath(const TargetsConfig& targets, const std::string& path);
// Watched: an include matched (or there is no include list) and no exclude did.
bool IsWatched(const TargetsConfig& targets, uint8_t match);

}  // namespace netlens
