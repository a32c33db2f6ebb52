// uprobe_multi links (Linux >= 6.6) created with the bpf() syscall, as libbpf 1.1 (Debian 12's)
// cannot: many offsets of one file in one link, optionally only for one process. Creating one
// with a program fd already held needs no capability, so the daemon attaches to binaries and
// processes it finds after dropping privileges (http/tls_probes.h, nginx/phases_probe.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace netlens {

// BPF_TRACE_UPROBE_MULTI, not in the uapi headers netlens builds against (Linux 6.1's): a
// program attached by such links is loaded with this expected attach type.
inline constexpr uint32_t kAttachUprobeMulti = 48;

// The probes at `offsets` (file offsets) of `path`, entry or return (`ret`), one cookie per
// offset (or none), for process `pid` (0: every process mapping the file). Returns the link
// fd, or -errno (-EINVAL on a kernel before 6.6).
int CreateUprobeMultiLink(int prog_fd, const std::string& path,
                          const std::vector<uint64_t>& offsets,
                          const std::vector<uint64_t>& cookies, bool ret, uint32_t pid);

}  // namespace netlens
