// netlens' own state as metrics: the build, each eBPF program (attached, runs, run time,
// missed runs), the attach mode of each hook, and configuration reloads.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "bpf/tracer.h"
#include "metrics/metric_source.h"

namespace netlens {

struct BuildInfo {
  std::string version;
  std::string libbpf_version;
  std::string kernel;
};

class SelfSource : public MetricSource {
 public:
  SelfSource(const Tracer& tracer, BuildInfo build) : tracer_(tracer), build_(std::move(build)) {}
  const char* name() const override { return "self"; }
  void Collect(SourceOutput out) override;
  void CountReload(bool success) { ++(success ? reloads_ok_ : reloads_failed_); }

 private:
  const Tracer& tracer_;
  BuildInfo build_;
  std::atomic<uint64_t> reloads_ok_ = 0, reloads_failed_ = 0;  // main loop writes, scrapes read
};

}  // namespace netlens
