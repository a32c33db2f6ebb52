#include "process/process_labels.h"

#include <unistd.h>

#include <array>

#include "process/service_rules.h"

namespace netlens {
namespace {

// Bounds of the directory indexes: far above the pods or named namespaces of one node.
constexpr size_t kMaxPods = 4096;
constexpr size_t kMaxNamedNetns = 4096;

std::string HostName() {
  std::array<char, 256> name{};
  if (gethostname(name.data(), name.size() - 1) != 0) return "";
  return name.data();
}

}  // namespace

ProcessLabels::ProcessLabels(const LabelSettings& settings, std::string proc_root,
                             CgroupOfProcess cgroup_of)
    : settings_(settings),
      instance_(settings.instance_value.empty() ? HostName() : settings.instance_value),
      service_(settings.service && !settings.services.empty()),
      cache_(settings.processes, settings.refresh, std::move(proc_root), std::move(cgroup_of)),
      pods_(settings.pods_directory, kMaxPods),
      netns_names_(settings.netns_directory, kMaxNamedNetns) {
  const std::pair<bool, const char*> labels[] = {
      {settings.exe, "exe"},
      {settings.cgroup, "cgroup"},
      {settings.container_id, "container_id"},
      {settings.pod, "pod"},
      {settings.k8s_namespace, "namespace"},
      {settings.systemd_unit, "systemd_unit"},
      {settings.netns, "netns"},
      {settings.netns_name, "netns_name"},
      {service_, "service"},
      {settings.instance, "instance"},
  };
  for (const auto& [on, name] : labels)
    if (on) names_.push_back(name);
  needs_process_ = settings.exe || settings.cgroup || settings.container_id || settings.pod ||
                   settings.k8s_namespace || settings.systemd_unit || service_;
}

void ProcessLabels::Append(const LabelSubject& subject, std::vector<std::string>& values,
                           ProcessCache::Clock::time_point now) {
  if (names_.empty()) return;
  static const ProcessInfo kNone{};
  const ProcessInfo& info = needs_process_ && subject.pid != 0
                                ? cache_.Lookup(subject.pid, subject.start_time, now)
                                : kNone;
  const CgroupInfo& cgroup = info.cgroup;
  std::optional<PodName> pod;
  if ((settings_.pod || settings_.k8s_namespace) && !cgroup.pod_uid.empty())
    pod = pods_.Lookup(cgroup.pod_uid, now);
  if (settings_.exe) values.push_back(info.exe);
  if (settings_.cgroup) values.push_back(cgroup.path);
  if (settings_.container_id) values.push_back(cgroup.container_id);
  // The pod's name, or its uid while the pod log directory does not name it.
  if (settings_.pod) values.push_back(pod ? pod->name : cgroup.pod_uid);
  if (settings_.k8s_namespace) values.push_back(pod ? pod->k8s_namespace : "");
  if (settings_.systemd_unit) values.push_back(cgroup.systemd_unit);
  if (settings_.netns) values.push_back(subject.netns ? std::to_string(subject.netns) : "");
  if (settings_.netns_name)
    values.push_back(subject.netns ? netns_names_.Lookup(subject.netns, now) : "");
  if (service_) {
    values.push_back(MatchService(settings_.services, std::string(subject.comm), info.exe,
                                  cgroup.path, subject.service_port));
  }
  if (settings_.instance) values.push_back(instance_);
}

}  // namespace netlens
