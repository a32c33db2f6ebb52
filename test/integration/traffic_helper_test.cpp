// nl-traffic makes exactly the calls it promises (no root needed; no netlens involved).
#include <catch2/catch.hpp>
#include <filesystem>

#include "expect.h"
#include "traffic_run.h"

namespace netlens::test {
namespace {

// The sockets a process has open, from /proc/PID/fd.
size_t OpenSockets(pid_t pid) {
  size_t sockets = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    std::error_code error;
    auto target = std::filesystem::read_symlink(entry.path(), error);
    if (!error && target.string().starts_with("socket:")) ++sockets;
  }
  return sockets;
}

TEST_CASE("nl-traffic: one call per transfer, pids and ports reported", "[unprivileged]") {
  int family = GENERATE(4, 6);
  TrafficOptions options{.comm = UniqueComm(),
                         .server_comm = UniqueComm(),
                         .family = family,
                         .connections = 5,
                         .rounds = 7,
                         .request = 1000,
                         .response = 30000};
  TrafficReport report = RunTraffic(options);
  RequireHelperCalls(options, report);
  REQUIRE(report.done);
  REQUIRE(report.client_pid > 0);
  REQUIRE(report.server_pid > 0);
  REQUIRE(report.client_pid != report.server_pid);
  REQUIRE(report.port != 0);
  for (const TrafficConnection& connection : report.connections) {
    REQUIRE(connection.server_port == report.port);
    REQUIRE(connection.client_port != 0);
  }
}

TEST_CASE("nl-traffic: --hold keeps the connections open until close", "[unprivileged]") {
  TrafficOptions options{.comm = UniqueComm(), .connections = 3, .rounds = 2};
  HeldTraffic held(options);
  REQUIRE(held.report().connections.size() == 3);
  REQUIRE_FALSE(held.report().done);
  REQUIRE(OpenSockets(held.report().client_pid) == 3);
  REQUIRE(OpenSockets(held.report().server_pid) == 3);  // the listener is closed by now
  const TrafficReport& report = held.Close();
  RequireHelperCalls(options, report);
}

}  // namespace
}  // namespace netlens::test
