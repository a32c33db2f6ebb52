// The kernel side of nginx request phases (issue 17): loads ebpf/nginx/phases.bpf.c, attaches
// its one uprobe to each nginx binary it is given (at ngx_http_free_request, for every process
// running that file), and drains the requests it records.
//
// What it guarantees:
// - Attach() takes a binary only with the struct offsets of its build (nginx/nginx_builds.h)
//   and the symbols ngx_http_free_request and ngx_cached_time: a binary without them is refused
//   with the reason, never probed with a guess. At most NL_NGINX_BUILDS binaries.
// - One record per request freed, written to a ring buffer (ring_bytes) without a wakeup;
//   Drain() hands them over in a batch. A full ring, or nginx memory that could not be read,
//   loses the request: counted in Stats(), never silent.
// - Attaching is a uprobe_multi link for every process of the file (Linux >= 6.6; no privilege
//   needed with the program loaded, so binaries found after start are probed too); before 6.6
//   a perf-event uprobe (Linux >= 5.15 for the cookie), which only start-up's privileges allow.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "ebpf/nginx/phases.h"
#include "nginx/nginx_builds.h"

struct bpf_link;
struct nginx_phases_bpf;
struct ring_buffer;

namespace netlens::nginx {

class PhasesError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct PhasesStats {
  uint64_t requests = 0;     // records written
  uint64_t ring_full = 0;    // requests lost: the ring was full
  uint64_t read_failed = 0;  // requests lost: nginx's memory could not be read
  uint64_t no_build = 0;     // probe hits without a build (never expected)
  uint64_t malformed = 0;    // user space: records of the wrong size (never expected)
};

class PhasesProbe {
 public:
  using RequestCallback = std::function<void(const nl_nginx_request&)>;

  // Loads the program; throws PhasesError with libbpf's verifier message.
  static std::unique_ptr<PhasesProbe> Load(const std::optional<std::string>& btf_path,
                                           RequestCallback on_request);
  ~PhasesProbe();
  PhasesProbe(const PhasesProbe&) = delete;
  PhasesProbe& operator=(const PhasesProbe&) = delete;

  // Probes the nginx executable at `path` (opened by the kernel: a path through
  // /proc/PID/root for a container's) as `build`. Returns the build index the records carry,
  // or throws PhasesError with why (symbols missing, attach failed, too many binaries).
  uint32_t Attach(const std::string& path, const std::string& image, const NginxBuild& build);
  // Hands every record in the ring to the callback; returns how many. Thread-safe.
  size_t Drain();
  PhasesStats Stats() const;
  // The program's run count and time (grow while kernel.bpf_stats_enabled=1).
  std::pair<uint64_t, uint64_t> Runs() const;

 private:
  PhasesProbe() = default;
  static int OnRecord(void* self, void* data, size_t size);

  nginx_phases_bpf* skel_ = nullptr;
  ring_buffer* ring_ = nullptr;
  RequestCallback on_request_;
  std::vector<bpf_link*> links_;  // perf-event uprobes (before Linux 6.6)
  std::vector<int> link_fds_;     // uprobe_multi links
  uint32_t attached_ = 0;         // binaries: the next build index
  std::mutex drain_mutex_;
  std::atomic<uint64_t> malformed_{0};
};

}  // namespace netlens::nginx
