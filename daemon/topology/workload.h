// What names one end of an edge: the workload of a process (the `service` label where a
// `services` rule names it, else its pod, container or systemd service, else its comm), or a
// remote address (named by a `service_map.remote_names` rule, else the address itself). The
// edge labels `client_kind` / `server_kind` say which.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "process/process_labels.h"
#include "topology/service_map_config.h"

namespace netlens::topology {

struct EndName {
  std::string name;
  std::string kind;  // service, pod, container, unit, comm; remote ends: network, address
};

class WorkloadNamer {
 public:
  // labels: the config's labels (services rules, pods directory, cache bounds); the namer
  // reads the metadata it needs whatever labels the tcp series show.
  WorkloadNamer(const LabelSettings& labels, std::vector<RemoteName> remote_names,
                std::string proc_root = "/proc");

  // A process on this host. service_port: the port it serves on this connection (the local
  // port of an accepted connection), 0 for a client, so a `services` rule with a port names
  // the server and not the processes that call it.
  EndName Process(uint32_t pid, uint64_t start_time, std::string_view comm, uint32_t netns,
                  uint16_t service_port, ProcessCache::Clock::time_point now);
  // An address not matched to a process on this host.
  EndName Remote(const uint8_t address[16]) const;

  void Forget(uint32_t pid, uint64_t start_time) { labels_.Forget(pid, start_time); }
  const ProcessCache& cache() const { return labels_.cache(); }

 private:
  static LabelSettings WorkloadLabels(LabelSettings labels);

  ProcessLabels labels_;
  std::vector<RemoteName> remote_names_;
  std::vector<std::string> values_;  // reused
};

}  // namespace netlens::topology
