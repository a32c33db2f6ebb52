// The metric families and label values of netlens that the integration tests check. The
// family names are the daemon's own (daemon/metrics/metric_names.h), never spelled again here.
#pragma once

#include <string>
#include <string_view>

#include "metrics/metric_names.h"

namespace netlens::test::metric {

using namespace netlens::metric_name;  // every family: metric::kTcpRttSeconds, ...

inline constexpr std::string_view kSentBytes = kTcpSentBytesTotal;
inline constexpr std::string_view kReceivedBytes = kTcpReceivedBytesTotal;
inline constexpr std::string_view kSendCalls = kTcpSendCallsTotal;
inline constexpr std::string_view kReceiveCalls = kTcpReceiveCallsTotal;
inline constexpr std::string_view kConnectionsOpened = kTcpConnectionsOpenedTotal;
inline constexpr std::string_view kConnectionsClosed = kTcpConnectionsClosedTotal;
inline constexpr std::string_view kConnectionsOpen = kTcpConnectionsOpen;

inline constexpr std::string_view kActive = "active";
inline constexpr std::string_view kPassive = "passive";

// The "family" label value and the loopback address as netlens prints them.
inline std::string FamilyLabel(int family) { return family == 4 ? "ipv4" : "ipv6"; }
inline std::string LoopbackAddress(int family) { return family == 4 ? "127.0.0.1" : "::1"; }

}  // namespace netlens::test::metric
