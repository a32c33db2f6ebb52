// Label values from process metadata (exe, cgroup, container, pod, systemd
// unit, network namespace, service, instance) appended to a series' labels.
// Metadata is read per process through a bounded cache, never per event.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "process/netns_names.h"
#include "process/pod_directory.h"
#include "process/process_cache.h"

namespace netlens {

// What a series is about: its process, its socket's network namespace, its service port.
struct LabelSubject {
  uint32_t pid = 0;  // 0: no process (untracked traffic, the overflow key)
  uint64_t start_time = 0;
  uint32_t netns = 0;
  uint16_t service_port = 0;
  std::string_view comm;
};

class ProcessLabels {
 public:
  explicit ProcessLabels(const LabelSettings& settings, std::string proc_root = "/proc",
                         CgroupOfProcess cgroup_of = {});

  // The label names this adds, in order; empty when every label is off.
  const std::vector<std::string>& names() const { return names_; }
  // Appends one value per name.
  void Append(const LabelSubject& subject, std::vector<std::string>& values,
              ProcessCache::Clock::time_point now);

  const ProcessCache& cache() const { return cache_; }
  void Forget(uint32_t pid, uint64_t start_time) { cache_.Forget(pid, start_time); }

 private:
  LabelSettings settings_;
  std::vector<std::string> names_;
  std::string instance_;
  bool needs_process_ = false;
  bool service_ = false;
  ProcessCache cache_;
  PodDirectory pods_;
  NetnsNames netns_names_;
};

}  // namespace netlens
