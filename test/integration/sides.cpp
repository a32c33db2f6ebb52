#include "sides.h"

#include "metric_names.h"

namespace netlens::test {
namespace {

bool IsClient(const Side& side) { return side.direction == metric::kActive; }

Labels With(Labels labels, const Labels& more) {
  labels.insert(more.begin(), more.end());
  return labels;
}

}  // namespace

Side ClientSide(const TrafficOptions& options, const TrafficReport& report) {
  return {.role = "client",
          .direction = std::string(metric::kActive),
          .process = {{"pid", std::to_string(report.client_pid)}, {"comm", options.comm}},
          .counts = ExpectedClientCounts(options),
          .per_connection = ExpectedClientCountsPerConnection(options)};
}

Side ServerSide(const TrafficOptions& options, const TrafficReport& report) {
  return {.role = "server",
          .direction = std::string(metric::kPassive),
          .process = {{"pid", std::to_string(report.server_pid)}, {"comm", options.ServerComm()}},
          .counts = ExpectedServerCounts(options),
          .per_connection = ExpectedServerCountsPerConnection(options)};
}

Labels DirectionLabels(const Side& side) {
  return With(side.process, {{"direction", side.direction}});
}

Labels RemoteLabels(const Side& side, const TrafficOptions& options, const TrafficReport& report) {
  return With(DirectionLabels(side), {{"family", metric::FamilyLabel(options.family)},
                                      {"remote_address", metric::LoopbackAddress(options.family)},
                                      {"service_port", std::to_string(report.port)}});
}

Labels ConnectionLabels(const Side& side, const TrafficOptions& options,
                        const TrafficReport& report, const TrafficConnection& connection) {
  uint16_t local = IsClient(side) ? connection.client_port : report.port;
  uint16_t remote = IsClient(side) ? report.port : connection.client_port;
  std::string loopback = metric::LoopbackAddress(options.family);
  return With(DirectionLabels(side), {{"family", metric::FamilyLabel(options.family)},
                                      {"local_address", loopback},
                                      {"local_port", std::to_string(local)},
                                      {"remote_address", loopback},
                                      {"remote_port", std::to_string(remote)}});
}

}  // namespace netlens::test
