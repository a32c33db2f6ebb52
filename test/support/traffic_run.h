// Runs nl-traffic (traffic_helper.cpp) and reads its report.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "subprocess.h"

namespace netlens::test {

struct TrafficOptions {
  std::string comm;         // client comm; <= 15 characters
  std::string server_comm;  // empty: the same as comm
  int family = 4;           // 4: 127.0.0.1, 6: ::1
  int connections = 1;
  int rounds = 1;
  uint64_t request = 100;  // bytes per request
  uint64_t response = 100;
  int server_delay_ms = 0;   // between reading a request and sending its response
  std::string address;       // the server's address; empty: 127.0.0.1 or ::1
  uint16_t port = 0;         // the server's port; 0: ephemeral
  std::string cgroup;        // a cgroup v2 directory nl-traffic moves into first; empty: none
  std::string server_netns;  // network namespace (ip netns name) of the server; empty: ours
  // Requests and responses are HTTP/1.1 messages of exactly request/response bytes: per round
  // and connection one "GET /nl" answered 200 (nl-traffic --http).
  bool http = false;

  const std::string& ServerComm() const { return server_comm.empty() ? comm : server_comm; }
};

struct TrafficConnection {
  uint16_t client_port = 0;  // the client's (ephemeral) local port
  uint16_t server_port = 0;  // the server's local port: the listening port
};

// What nl-traffic printed; the call counts only once it has finished.
struct TrafficReport {
  pid_t client_pid = 0;
  pid_t server_pid = 0;
  uint16_t port = 0;  // the listening port
  std::vector<TrafficConnection> connections;
  uint64_t client_send_calls = 0;
  uint64_t client_recv_calls = 0;
  uint64_t server_send_calls = 0;
  uint64_t server_recv_calls = 0;
  // With server_delay_ms, per exchange in order (microseconds): bounds of the server's turn
  // (request read -> response written) and the upper bound of the client's wait.
  std::vector<uint64_t> server_turn_low_us;
  std::vector<uint64_t> server_turn_high_us;
  std::vector<uint64_t> client_wait_high_us;
  bool done = false;
};

// What one side of the traffic moved, as netlens should count it.
struct TrafficCounts {
  uint64_t sent_bytes = 0;
  uint64_t received_bytes = 0;
  uint64_t send_calls = 0;
  uint64_t receive_calls = 0;
};
TrafficCounts ExpectedClientCounts(const TrafficOptions& options);
TrafficCounts ExpectedServerCounts(const TrafficOptions& options);
// Per connection, for the connection level.
TrafficCounts ExpectedClientCountsPerConnection(const TrafficOptions& options);
TrafficCounts ExpectedServerCountsPerConnection(const TrafficOptions& options);

// "nlt" and 6 random letters and digits: a comm no other process has.
std::string UniqueComm();

// The path of nl-traffic (compile definition NL_TRAFFIC_BINARY).
std::string TrafficBinary();

// Runs nl-traffic to completion (60 s at most); throws with its stderr if it fails.
TrafficReport RunTraffic(const TrafficOptions& options);

// nl-traffic --hold: the connections stay open until Close().
class HeldTraffic {
 public:
  explicit HeldTraffic(const TrafficOptions& options);  // returns once the rounds are done
  HeldTraffic(const HeldTraffic&) = delete;
  HeldTraffic& operator=(const HeldTraffic&) = delete;
  ~HeldTraffic();  // if not closed: EOF on stdin lets nl-traffic close and exit (killed after 5 s)
  // The report so far: pids, port and connections.
  const TrafficReport& report() const { return report_; }
  // Writes "close", waits for the exit and returns the complete report.
  const TrafficReport& Close();

 private:
  std::unique_ptr<Child> child_;
  TrafficReport report_;
};

}  // namespace netlens::test
