// Dropping privileges once start-up is over: the eBPF programs are loaded and attached and the
// HTTP port is bound, so what is left (reading and updating maps through the fds netlens
// holds, reading /proc/PID/comm, serving HTTP on the bound socket) needs no capability on
// current kernels. See docs/deployment.md.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "config/config.h"

namespace netlens {

class CapabilityError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CapabilityDrop {
  uint64_t kept = 0;                  // effective = permitted set afterwards (bit n: capability n)
  bool bounding_set_cleared = false;  // false when CAP_SETPCAP was not held to do it
  int threads = 0;                    // threads of the process, all changed alike
  std::string reason;                 // why `kept` is kept, when it is not empty
};

// In every thread of the process: clears the inheritable and ambient sets, keeps in the
// effective and permitted sets only what map access still needs (nothing, unless the kernel
// applies kernel.unprivileged_bpf_disabled to every bpf() call, as kernels before 6.5 do:
// then CAP_BPF), sets no_new_privs and, if CAP_SETPCAP is held, empties the bounding set.
// Capabilities belong to threads, not processes, and the HTTP server's threads already run:
// each is made to change its own with a signal, as glibc does for setuid(). Then reads
// /proc/self/task/*/status back; throws CapabilityError if any thread differs.
// keep_ptrace: also keep CAP_SYS_PTRACE, which reading /proc/PID/exe of processes with more
// capabilities than netlens needs (the exe label, exe rules of the service label).
CapabilityDrop DropCapabilities(bool keep_ptrace = false);

// Whether this config reads /proc/PID/exe of other users' processes (the exe label, exe
// service rules or exe selectors, of targets or http_requests) or their /proc/PID/maps and
// root (http_requests.tls: the libssl to probe), which needs CAP_SYS_PTRACE: kept only then.
bool ReadsExeOfOtherUsers(const Config& config);

// Whether bpf() commands on an existing map fd fail with EPERM without CAP_BPF/CAP_SYS_ADMIN
// (probed with a harmless command on fd -1: EPERM if so, EBADF if not).
bool MapAccessNeedsCapability();

// "cap_bpf, cap_perfmon"; "none" for 0.
std::string CapabilityNames(uint64_t mask);

}  // namespace netlens
