// Listen-queue drops of netlens' network namespace, from /proc/net/netstat. The kernel has
// no tracepoint where a SYN is dropped for a full accept queue (tcp_conn_request only bumps
// these SNMP counters), so they are read as the kernel keeps them: per network namespace.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace netlens {

struct ListenQueueDrops {
  uint64_t overflows = 0;  // TcpExt ListenOverflows: accept queue full
  uint64_t drops = 0;      // TcpExt ListenDrops: every SYN or final ACK a listener dropped
};

// Parses the text of /proc/net/netstat ("TcpExt: names..." then "TcpExt: values...");
// nothing if the TcpExt lines or either counter is missing.
std::optional<ListenQueueDrops> ParseListenQueueDrops(const std::string& netstat);

// Reads /proc/net/netstat; nothing if it cannot be read or parsed.
std::optional<ListenQueueDrops> ReadListenQueueDrops();

}  // namespace netlens
