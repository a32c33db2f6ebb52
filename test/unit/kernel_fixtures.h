// Kernel map entries as the programs write them, for tests that feed the Aggregator and the
// renderers a snapshot whose every number is known.
#pragma once

#include <arpa/inet.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <utility>

#include "bpf/kernel_snapshot.h"
#include "metrics/counter_ledger.h"

namespace netlens {

inline const SteadyClock::time_point t0{};

inline void SetAddr(uint8_t out[16], const char* v4) {
  std::memset(out, 0, 16);
  out[10] = out[11] = 0xff;
  REQUIRE(inet_pton(AF_INET, v4, out + 12) == 1);
}

inline nl_conn Conn(uint32_t pid, const char* comm, uint8_t direction, uint16_t lport,
                    uint16_t rport, uint64_t sent, uint64_t received) {
  nl_conn c{};
  SetAddr(c.tuple.local_addr, "10.0.0.1");
  SetAddr(c.tuple.remote_addr, "10.0.0.2");
  c.tuple.local_port = lport;
  c.tuple.remote_port = rport;
  c.tuple.family = AF_INET;
  c.pid = pid;
  std::strncpy(c.comm, comm, sizeof(c.comm));
  c.direction = direction;
  c.owner = NL_OWNER_PROCESS;
  c.established = 1;
  c.open_ns = 1000 + lport;
  c.traffic.bytes_sent = sent;
  c.traffic.bytes_received = received;
  c.traffic.send_calls = sent ? 1 : 0;
  c.traffic.receive_calls = received ? 1 : 0;
  return c;
}

// What the kernel folds into totals when `c` closes.
inline std::pair<nl_agg_key, nl_agg_value> Folded(const nl_conn& c) {
  nl_agg_key key{};
  key.pid = c.pid;
  std::memcpy(key.comm, c.comm, NL_COMM_LEN);
  key.family = c.tuple.family;
  key.direction = c.direction;
  key.service_port = c.direction == NL_DIR_ACTIVE ? c.tuple.remote_port : c.tuple.local_port;
  std::memcpy(key.remote_addr, c.tuple.remote_addr, 16);
  nl_agg_value value{};
  value.traffic = c.traffic;
  value.connections_opened = 1;
  value.connections_closed = 1;
  return {key, value};
}

}  // namespace netlens
