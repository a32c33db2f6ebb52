// Turning raw kernel keys (addresses, ports, comm, direction) into label values.
#pragma once

#include <cstdint>
#include <string>

namespace netlens {

// "ipv4" for IPv4 and IPv4-mapped IPv6 addresses, otherwise "ipv6".
std::string FamilyLabel(const uint8_t addr[16]);
// Dotted quad for IPv4-mapped addresses, RFC 5952 text for IPv6.
std::string AddressLabel(const uint8_t addr[16]);
// "active", "passive" or "unknown" (enum nl_direction).
std::string DirectionLabel(uint8_t direction);
// The kernel's comm (at most 16 bytes, NUL-padded) as printable ASCII; bytes
// outside 0x20..0x7e become '?' so every label value is valid UTF-8.
std::string CommLabel(const char comm[16]);
// TCP state number -> kernel name ("ESTABLISHED"); "UNKNOWN_<n>" otherwise.
std::string TcpStateName(unsigned state);

}  // namespace netlens
