// Label rendering of kernel keys.
#include <arpa/inet.h>

#include <catch2/catch.hpp>

#include "ebpf/lib/common.h"
#include "metrics/labels.h"

using namespace netlens;

namespace {
std::array<uint8_t, 16> V6(const char* text) {
  std::array<uint8_t, 16> out{};
  REQUIRE(inet_pton(AF_INET6, text, out.data()) == 1);
  return out;
}
}  // namespace

TEST_CASE("IPv4-mapped addresses render as IPv4") {
  const auto addr = V6("::ffff:10.1.2.3");
  REQUIRE(AddressLabel(addr.data()) == "10.1.2.3");
  REQUIRE(FamilyLabel(addr.data()) == "ipv4");
}

TEST_CASE("IPv6 addresses render in RFC 5952 form") {
  const auto addr = V6("2001:db8:0:0:0:0:0:1");
  REQUIRE(AddressLabel(addr.data()) == "2001:db8::1");
  REQUIRE(FamilyLabel(addr.data()) == "ipv6");
  REQUIRE(AddressLabel(V6("::1").data()) == "::1");
}

TEST_CASE("directions") {
  REQUIRE(DirectionLabel(NL_DIR_ACTIVE) == "active");
  REQUIRE(DirectionLabel(NL_DIR_PASSIVE) == "passive");
  REQUIRE(DirectionLabel(NL_DIR_UNKNOWN) == "unknown");
}

TEST_CASE("comm is printable ASCII, at most 16 bytes, never empty") {
  const char full[16] = {'n', 'g', 'i', 'n', 'x', 0};
  REQUIRE(CommLabel(full) == "nginx");
  const char odd[16] = {'a', '\n', static_cast<char>(0xc3), '"', 0};
  REQUIRE(CommLabel(odd) == "a??\"");
  const char unterminated[16] = {'0', '1', '2', '3', '4', '5', '6', '7',
                                 '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
  REQUIRE(CommLabel(unterminated) == "0123456789abcdef");
  const char empty[16] = {};
  REQUIRE(CommLabel(empty) == "[unknown]");
}

TEST_CASE("TCP state names") {
  REQUIRE(TcpStateName(1) == "ESTABLISHED");
  REQUIRE(TcpStateName(7) == "CLOSE");
  REQUIRE(TcpStateName(12) == "NEW_SYN_RECV");
  REQUIRE(TcpStateName(15) == "UNKNOWN_15");
}
