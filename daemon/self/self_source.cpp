#include "self/self_source.h"

#include "metrics/metric_builder.h"
#include "metrics/metric_names.h"

namespace netlens {

void SelfSource::Collect(SourceOutput out) {
  using prometheus::MetricType;
  MetricBuilder build(metric_name::kBuildInfo, "netlens build and runtime versions; always 1.",
                      MetricType::Gauge);
  build.Add({"version", "libbpf_version", "kernel"},
            {build_.version, build_.libbpf_version, build_.kernel}, 1);
  out.families.push_back(build.Take());

  MetricBuilder attached(metric_name::kProgramAttached,
                         "1 when the eBPF program is attached to its hook.", MetricType::Gauge);
  for (const auto& p : tracer_.programs())
    attached.Add({"program", "hook", "mode"}, {p.program, p.hook, p.mode}, p.attached ? 1 : 0);
  out.families.push_back(attached.Take());

  MetricBuilder runs(metric_name::kProgramRunsTotal,
                     "Runs of each eBPF program; counted only while kernel.bpf_stats_enabled=1.",
                     MetricType::Counter);
  MetricBuilder run_time(
      metric_name::kProgramRunSecondsTotal,
      "Time spent in each eBPF program; counted only while kernel.bpf_stats_enabled=1.",
      MetricType::Counter);
  MetricBuilder missed(
      metric_name::kProgramMissedRunsTotal,
      "Events an eBPF program did not see: runs the kernel skipped because another "
      "BPF run on that CPU was interrupted (tp_btf/fentry: the same program; "
      "tracepoint/kprobe: any tracing program).",
      MetricType::Counter);
  for (const auto& p : tracer_.programs()) {
    const ProgramCounters counters = tracer_.counters(p.program);
    runs.Add({"program"}, {p.program}, static_cast<double>(counters.run_count));
    run_time.Add({"program"}, {p.program}, static_cast<double>(counters.run_time_ns) / 1e9);
    missed.Add({"program"}, {p.program}, static_cast<double>(counters.missed_runs));
  }
  out.families.push_back(runs.Take());
  out.families.push_back(run_time.Take());
  out.families.push_back(missed.Take());

  MetricBuilder hooks(metric_name::kHookAttachInfo,
                      "The attach mode serving each hook and why it was picked; always 1.",
                      MetricType::Gauge);
  for (const auto& h : tracer_.hooks())
    hooks.Add({"hook", "mode", "reason"}, {h.hook, h.mode, h.reason}, 1);
  out.families.push_back(hooks.Take());

  MetricBuilder reloads(metric_name::kConfigReloadsTotal, "Configuration reloads (SIGHUP).",
                        MetricType::Counter);
  reloads.Add({"result"}, {"success"}, static_cast<double>(reloads_ok_.load()));
  reloads.Add({"result"}, {"failure"}, static_cast<double>(reloads_failed_.load()));
  out.families.push_back(reloads.Take());
}

}  // namespace netlens
