#include "topology/workload.h"

#include "metrics/labels.h"

namespace netlens::topology {
namespace {

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

}  // namespace

LabelSettings WorkloadNamer::WorkloadLabels(LabelSettings labels) {
  labels.pid = false;
  labels.exe = labels.cgroup = labels.netns = labels.netns_name = labels.instance = false;
  labels.container_id = labels.pod = labels.k8s_namespace = labels.systemd_unit = true;
  labels.service = true;  // shown only with rules
  return labels;
}

WorkloadNamer::WorkloadNamer(const LabelSettings& labels, std::vector<RemoteName> remote_names,
                             std::string proc_root)
    : labels_(WorkloadLabels(labels), std::move(proc_root)),
      remote_names_(std::move(remote_names)) {}

EndName WorkloadNamer::Process(uint32_t pid, uint64_t start_time, std::string_view comm,
                               uint32_t netns, uint16_t service_port,
                               ProcessCache::Clock::time_point now) {
  values_.clear();
  labels_.Append({.pid = pid,
                  .start_time = start_time,
                  .netns = netns,
                  .service_port = service_port,
                  .comm = comm},
                 values_, now);
  // In the order ProcessLabels names them: container_id, pod, namespace, systemd_unit, service.
  const std::string empty;
  const std::string& container = values_.size() > 0 ? values_[0] : empty;
  const std::string& pod = values_.size() > 1 ? values_[1] : empty;
  const std::string& k8s_namespace = values_.size() > 2 ? values_[2] : empty;
  const std::string& unit = values_.size() > 3 ? values_[3] : empty;
  const std::string& service = values_.size() > 4 ? values_[4] : empty;
  if (!service.empty()) return {service, "service"};
  if (!pod.empty()) return {k8s_namespace.empty() ? pod : k8s_namespace + "/" + pod, "pod"};
  if (!container.empty()) return {container.substr(0, 12), "container"};
  // A service unit names a daemon; a scope (a login session, a terminal's apps) names none.
  if (EndsWith(unit, ".service")) return {unit, "unit"};
  return {std::string(comm), "comm"};
}

EndName WorkloadNamer::Remote(const uint8_t address[16]) const {
  if (const std::string* name = RemoteNameOf(remote_names_, address)) return {*name, "network"};
  return {AddressLabel(address), "address"};
}

}  // namespace netlens::topology
