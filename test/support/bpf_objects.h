// The BPF programs, maps and links a process holds (its /proc/PID/fd), and the programs the
// kernel has loaded (libbpf's id iteration): what a restart test needs to tell whether a
// killed daemon left anything behind.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>

namespace netlens::test {

struct BpfObjects {
  std::set<uint32_t> programs;  // held as program fds, or through a link
  std::set<uint32_t> maps;
  std::set<uint32_t> links;
};

// What pid holds open now (empty when the process is gone). Needs root for other processes.
BpfObjects BpfObjectsOf(pid_t pid);

// Every process's BpfObjectsOf, merged, except `excluded`'s.
BpfObjects BpfObjectsOfAllBut(pid_t excluded);

// Every program loaded in the kernel: id -> name (the kernel keeps 15 characters).
std::map<uint32_t, std::string> LoadedPrograms();

// Whether the kernel still has a program, map or link with this id.
bool ProgramExists(uint32_t id);
bool MapExists(uint32_t id);
bool LinkExists(uint32_t id);

}  // namespace netlens::test
