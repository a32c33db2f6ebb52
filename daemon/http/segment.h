// One send/receive call of an observed process on a TCP connection, as the HTTP parser gets it
// (from http/capture.h).
#pragma once

#include <cstdint>
#include <string_view>

namespace netlens::http {
enum class Direction : uint8_t {
  kRead,
  kWrite
};  // from the observed process: bytes it read / wrote
struct Segment {
  Direction direction;
  uint64_t ts_ns;          // monotonic ns when the call returned
  uint64_t length;         // bytes the call moved (> 0)
  std::string_view bytes;  // the first bytes of those (bytes.size() <= length); the rest not copied
};
}  // namespace netlens::http
