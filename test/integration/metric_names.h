// The metric families and label values of netlens that the integration tests check.
#pragma once

#include <string>
#include <string_view>

namespace netlens::test::metric {

inline constexpr std::string_view kSentBytes = "netlens_tcp_sent_bytes_total";
inline constexpr std::string_view kReceivedBytes = "netlens_tcp_received_bytes_total";
inline constexpr std::string_view kSendCalls = "netlens_tcp_send_calls_total";
inline constexpr std::string_view kReceiveCalls = "netlens_tcp_receive_calls_total";
inline constexpr std::string_view kConnectionsOpened = "netlens_tcp_connections_opened_total";
inline constexpr std::string_view kConnectionsClosed = "netlens_tcp_connections_closed_total";
inline constexpr std::string_view kConnectionsOpen = "netlens_tcp_connections_open";

inline constexpr std::string_view kActive = "active";
inline constexpr std::string_view kPassive = "passive";

// The "family" label value and the loopback address as netlens prints them.
inline std::string FamilyLabel(int family) { return family == 4 ? "ipv4" : "ipv6"; }
inline std::string LoopbackAddress(int family) { return family == 4 ? "127.0.0.1" : "::1"; }

}  // namespace netlens::test::metric
