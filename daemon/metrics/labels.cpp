#include "metrics/labels.h"

#include <arpa/inet.h>

#include <array>
#include <cstring>

#include "ebpf/lib/common.h"

namespace netlens {
namespace {

bool IsV4Mapped(const uint8_t addr[16]) {
  static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(addr, kPrefix, sizeof(kPrefix)) == 0;
}

}  // namespace

std::string FamilyLabel(const uint8_t addr[16]) { return IsV4Mapped(addr) ? "ipv4" : "ipv6"; }

std::string AddressLabel(const uint8_t addr[16]) {
  char text[INET6_ADDRSTRLEN] = {};
  if (IsV4Mapped(addr)) {
    inet_ntop(AF_INET, addr + 12, text, sizeof(text));
  } else {
    inet_ntop(AF_INET6, addr, text, sizeof(text));
  }
  return text;
}

std::string DirectionLabel(uint8_t direction) {
  switch (direction) {
    case NL_DIR_ACTIVE:
      return "active";
    case NL_DIR_PASSIVE:
      return "passive";
    default:
      return "unknown";
  }
}

std::string CommLabel(const char comm[16]) {
  std::string out;
  for (size_t i = 0; i < NL_COMM_LEN && comm[i] != '\0'; ++i) {
    const auto c = static_cast<unsigned char>(comm[i]);
    out.push_back(c >= 0x20 && c <= 0x7e ? static_cast<char>(c) : '?');
  }
  return out.empty() ? "[unknown]" : out;
}

std::string TcpStateName(unsigned state) {
  static constexpr std::array<const char*, 13> kNames = {
      "UNKNOWN_0", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",   "TIME_WAIT",
      "CLOSE",     "CLOSE_WAIT",  "LAST_ACK", "LISTEN",   "CLOSING",   "NEW_SYN_RECV"};
  if (state < kNames.size()) return kNames[state];
  return "UNKNOWN_" + std::to_string(state);
}

}  // namespace netlens
