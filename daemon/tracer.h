// Loads, attaches and owns the eBPF programs and maps (the libbpf skeleton).
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "config.h"

struct netlens_bpf;

namespace netlens {

struct ProgramStatus {
  std::string program;  // e.g. nl_send_tp_btf
  std::string hook;     // e.g. sock:sock_send_length
  std::string mode;     // e.g. tp_btf
  bool attached = false;
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

// Start-up failures; what() names the cause and the fix.
class TracerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Tracer {
 public:
  // Checks privileges and BTF, picks an attach mode per hook (attach_mode
  // "auto" probes; another value forces it where the hook offers it), sizes
  // the maps from `limits`, loads and attaches.
  static std::unique_ptr<Tracer> Start(const Limits& limits,
                                       const std::optional<std::string>& btf_path,
                                       const std::string& attach_mode);
  ~Tracer();
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  const std::vector<ProgramStatus>& programs() const { return programs_; }
  const std::vector<HookChoice>& hooks() const { return hooks_; }
  MapInfo map(const std::string& name) const;
  // Connection level: the kernel hands closed connections to user space.
  void SetKeepClosed(bool keep);
  // Detaches every program now; the maps stay readable.
  void Detach();

 private:
  Tracer() = default;
  netlens_bpf* skel_ = nullptr;
  std::vector<ProgramStatus> programs_;
  std::vector<HookChoice> hooks_;
};

}  // namespace netlens
