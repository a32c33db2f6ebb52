// Which program serves each hook: the attach modes each hook offers, and the
// probe that picks, per hook, the best one the running kernel supports.
#pragma once

#include <string>
#include <vector>

struct btf;

namespace netlens {

// One eBPF program and what it attaches to.
struct ProgramSpec {
  const char* program;  // name in ebpf/*.bpf.h
  const char* target;   // tracepoint "category:event" or kernel function
  bool optional;        // loaded only where the kernel has the target (tcp_sendpage < 6.5)
  const char* accounting = nullptr;  // loaded only with this accounting; nullptr: with both
};

// One way to serve a hook: the programs that together do it.
struct ModeSpec {
  const char* mode;  // tp_btf, tracepoint, fentry, kprobe
  std::vector<ProgramSpec> programs;
};

struct HookSpec {
  const char* hook;                  // socket counters, send/receive, lifecycle, retransmit, accept
  std::vector<ModeSpec> modes;       // in order of preference
  bool optional = false;             // netlens runs without it (its metrics stay empty)
  const char* accounting = nullptr;  // loaded only with this accounting; nullptr: with both
};

const std::vector<HookSpec>& Hooks();

// Why `mode` cannot serve `hook` on this kernel, judged from BTF and tracefs
// alone (cheap); empty when it may. Programs whose optional target is missing
// are left out of `usable`.
std::string PrecheckMode(const ModeSpec& mode, const struct btf* kernel_btf,
                         std::vector<ProgramSpec>& usable);

// Index of tcp_recvmsg's `flags` argument in this kernel (3 since 5.19, 4 before).
unsigned RecvmsgFlagsArg(const struct btf* kernel_btf);

}  // namespace netlens
