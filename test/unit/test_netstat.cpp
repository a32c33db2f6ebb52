// Tests of the /proc/net/netstat parser (listen-queue drops).
#include <catch2/catch.hpp>
#include <string>

#include "tcp/netstat.h"

namespace netlens {
namespace {

TEST_CASE("ListenOverflows and ListenDrops are read from the TcpExt lines", "[netstat]") {
  const std::string text =
      "TcpExt: SyncookiesSent SyncookiesRecv ListenOverflows ListenDrops TCPHPHits\n"
      "TcpExt: 1 2 17 19 12345678901234\n"
      "IpExt: InNoRoutes ListenOverflows\n"
      "IpExt: 0 99\n";
  const auto drops = ParseListenQueueDrops(text);
  REQUIRE(drops);
  CHECK(drops->overflows == 17);
  CHECK(drops->drops == 19);
}

TEST_CASE("netstat text without the counters, or malformed, gives nothing", "[netstat]") {
  CHECK_FALSE(ParseListenQueueDrops(""));
  CHECK_FALSE(ParseListenQueueDrops("TcpExt: ListenOverflows ListenDrops\n"));
  CHECK_FALSE(ParseListenQueueDrops("TcpExt: ListenOverflows ListenDrops\nTcpExt: 1\n"));
  CHECK_FALSE(ParseListenQueueDrops("TcpExt: ListenOverflows ListenDrops\nTcpExt: 1 x\n"));
  CHECK_FALSE(ParseListenQueueDrops("TcpExt: ListenOverflows\nTcpExt: 1\n"));
}

TEST_CASE("this host's /proc/net/netstat is readable", "[netstat]") {
  CHECK(ReadListenQueueDrops());
}

}  // namespace
}  // namespace netlens
