// What a process is: comm, executable, start time and cgroup, read from a proc
// root (/proc, or a directory laid out like it in tests), and what its cgroup
// path says about it (container, pod, systemd unit).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace netlens {

// What a cgroup path names. Empty strings: not present in the path.
struct CgroupInfo {
  std::string path;           // "/system.slice/nginx.service"; "" when unknown
  std::string container_id;   // full id as the runtime wrote it (usually 64 hex)
  std::string runtime;        // "docker", "containerd", "cri-o", "podman" or ""
  std::string pod_uid;        // Kubernetes pod uid with '-' ("_" in systemd names undone)
  std::string qos_class;      // "guaranteed", "burstable", "besteffort" for kubepods
  std::string systemd_unit;   // innermost unit that is not a container scope
  std::string systemd_slice;  // innermost slice

  bool operator==(const CgroupInfo&) const = default;
};

// Picks the cgroup path out of /proc/PID/cgroup text: the cgroup v2 line
// ("0::/path") when it names more than the root, else the v1 name=systemd line,
// else the first v1 line with a path. "" when no line has a path.
std::string CgroupPathOf(std::string_view proc_cgroup_text);

// The path of the cgroup v2 line ("0::/a/b") of /proc/PID/cgroup text, "/" included: the cgroup
// that the kernel's cgroup ids name. nullopt when there is no v2 line.
std::optional<std::string> CgroupV2PathOf(std::string_view proc_cgroup_text);

// Where the cgroup v2 hierarchy is mounted: /sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid
// hosts (from the mounts table); nullopt when it is not mounted.
std::optional<std::string> CgroupV2Root(const std::string& mounts_path = "/proc/self/mounts");

// Reads container, pod and systemd identity out of one cgroup path.
CgroupInfo ParseCgroupPath(std::string_view path);

// CgroupPathOf + ParseCgroupPath.
CgroupInfo ParseProcCgroup(std::string_view proc_cgroup_text);

// Field 22 of /proc/PID/stat (starttime, clock ticks since boot); nullopt when
// the text is not a stat line. The comm field may hold spaces and ')'.
std::optional<uint64_t> ParseStatStartTime(std::string_view stat_text);

struct ProcessInfo {
  uint32_t pid = 0;
  std::string comm;               // /proc/PID/comm
  std::string exe;                // readlink /proc/PID/exe, " (deleted)" dropped; "" if unreadable
  uint64_t start_time_ticks = 0;  // field 22 of /proc/PID/stat
  CgroupInfo cgroup;              // from /proc/PID/cgroup
  std::optional<std::string> cgroup_v2_path;  // its v2 line, what target selectors match
};

// Reads PID's metadata under proc_root. nullopt when the process is gone (no
// stat file); fields that cannot be read (exe of a kernel thread, or without
// the capability) stay empty.
std::optional<ProcessInfo> ReadProcessInfo(uint32_t pid, const std::string& proc_root = "/proc");

// The pids of the processes under proc_root now (its numeric directories), ascending.
std::vector<uint32_t> ListProcessIds(const std::string& proc_root = "/proc");

// Inode of the network namespace of PID (stat of PROC_ROOT/PID/ns/net), or 0.
uint64_t ReadNetnsInode(uint32_t pid, const std::string& proc_root = "/proc");

}  // namespace netlens
