// Which processes have their HTTP traffic parsed: the `http_requests.processes` selectors
// (targets/target_match.h) applied to the processes in /proc, together with what the kernel
// capture adds on its own (http/capture.h: children of watched processes at fork, `comm`
// selectors at exec).
//
// Scan() is cheap enough to run every second: it lists /proc and reads the metadata only of
// processes it has not judged, of those the kernel added or saw exec since they were judged,
// and of every process once per kRejudgeInterval. So a process is watched from its exec when
// a comm selector names it (or from its fork, as a child of a watched process), else from the
// next scan; its connections are parsed from their first request after that (http/exchange.h).
// A selector excluding it applies from the next scan. Bounded: at most `max_processes`. With no
// include selector (http_requests turned off by a reload) a scan watches nothing and reads
// nothing.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "targets/target_config.h"

namespace netlens::http {

class ProcessWatch {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr auto kRejudgeInterval = std::chrono::seconds(30);

  ProcessWatch(TargetsConfig selectors, size_t max_processes, std::string proc_root = "/proc");

  // New selectors: every process is judged again at the next Scan().
  void SetSelectors(TargetsConfig selectors);
  // The comms of the include selectors: what the kernel judges at exec.
  std::set<std::string> KernelComms() const;

  // kernel: the capture's watched processes now (tgid -> when the kernel added it or saw it
  // exec, 0 if the daemon wrote it; Capture::Watched()); now_ns: CLOCK_MONOTONIC before that
  // was read. Returns the processes to watch.
  const std::set<uint32_t>& Scan(Clock::time_point now, const std::map<uint32_t, uint64_t>& kernel,
                                 uint64_t now_ns);

  const std::set<uint32_t>& watched() const { return watched_; }
  // Processes selected but not watched at the last scan: max_processes were already.
  size_t over_limit() const { return over_limit_; }
  // Processes whose metadata was read, since start.
  uint64_t judgements() const { return judgements_; }

 private:
  struct Judged {
    uint64_t at_ns = 0;  // CLOCK_MONOTONIC of the scan that judged it
    bool selected = false;
  };

  TargetsConfig selectors_;
  size_t max_processes_;
  std::string proc_root_;
  std::map<uint32_t, Judged> judged_;  // the processes of the last scan
  std::set<uint32_t> watched_;
  Clock::time_point last_full_{};
  bool full_due_ = true;
  size_t over_limit_ = 0;
  uint64_t judgements_ = 0;
};

}  // namespace netlens::http
