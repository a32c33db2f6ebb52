// Loads, then attaches, and owns the eBPF programs and maps (the libbpf skeleton).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "bpf/attach_modes.h"
#include "config/config.h"

struct netlens_bpf;

namespace netlens {

struct ProgramStatus {
  std::string program;  // e.g. nl_send_tp_btf
  std::string hook;     // e.g. sock:sock_send_length
  std::string mode;     // e.g. tp_btf
  bool attached = false;
};

// What the kernel counts of one program's runs. run_count and run_time_ns grow only
// while kernel.bpf_stats_enabled=1; missed_runs always: runs the kernel skipped because
// the program was already running on that CPU (an interrupt nested into it), events lost.
struct ProgramCounters {
  uint64_t run_count = 0;
  uint64_t run_time_ns = 0;
  uint64_t missed_runs = 0;
};

// The mode picked for one hook, and why.
struct HookChoice {
  std::string hook;    // send/receive, lifecycle, retransmit
  std::string mode;    // tp_btf, tracepoint, fentry, kprobe
  std::string reason;  // "forced", "preferred", or why the better modes were passed over
};

struct MapInfo {
  std::string name;
  int fd = -1;
  uint32_t max_entries = 0;
};

// Every map of the eBPF object, filled from the skeleton's own fields once it is loaded: a
// map the object does not have is a compile error, never an fd of -1 at run time. A new map
// is one line here and one in Tracer::Load (tracer.cpp).
struct BpfMaps {
  MapInfo tcp_conns, tcp_totals, tcp_closed, tcp_listeners, tcp_latency, tcp_stats, tcp_transitions,
      tcp_settings, tcp_calls, tcp_live;
  MapInfo proc_cgroups;
  MapInfo tgt_settings, tgt_pids, tgt_comms, tgt_cgroups, tgt_procs, tgt_events, tgt_listeners,
      tgt_ignored, tgt_ports, tgt_cidrs, tgt_stats;
};

// Start-up failures; what() names the cause and the fix.
class TracerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Tracer {
 public:
  // Checks privileges and BTF, picks an attach mode per hook (attach_mode
  // "auto" probes; another value forces it where the hook offers it), sizes
  // the maps from `limits` and loads. Nothing runs until Attach().
  // `accounting` "kernel" falls back to "events" where the kernel cannot iterate maps
  // (accounting() tells which one runs; netlens_hook_attach_info shows why).
  static std::unique_ptr<Tracer> Load(const Limits& limits,
                                      const std::optional<std::string>& btf_path,
                                      const std::string& attach_mode,
                                      const std::string& accounting = "kernel");
  // Attaches the loaded programs. Call it once the maps that steer them (targets,
  // filters, settings) are written: an event seen before that would be judged by
  // empty maps (everything watched) and stay counted.
  void Attach();
  ~Tracer();
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  const std::vector<ProgramStatus>& programs() const { return programs_; }
  const std::vector<HookChoice>& hooks() const { return hooks_; }
  const BpfMaps& maps() const { return maps_; }
  // "kernel" (socket counters) or "events" (send/receive hooks): the one loaded.
  const std::string& accounting() const { return accounting_; }
  // Kernel accounting: runs nl_socket_counters_run, which folds entries that outlived their
  // socket and writes every live connection's counters to tcp_live; returns how many records
  // (slots 0..N-1), nullopt if it failed (logged). Per-event accounting: the fold only, nullopt.
  std::optional<uint32_t> ReadSocketCounters();
  ProgramCounters counters(const std::string& program) const;
  // Connection level: the kernel hands closed connections to user space.
  void SetKeepClosed(bool keep);
  // Detaches every program now; the maps stay readable.
  void Detach();

 private:
  Tracer() = default;
  // Kernel accounting: entries for the connections open before start (ebpf/tcp/adopt.bpf.h).
  void AdoptOpenConnections();
  netlens_bpf* skel_ = nullptr;
  BpfMaps maps_;
  std::vector<ProgramStatus> programs_;
  std::vector<HookChoice> hooks_;
  std::string accounting_ = "kernel";
  std::vector<std::pair<HookChoice, std::vector<ProgramSpec>>> chosen_;  // loaded, not attached
};

}  // namespace netlens
