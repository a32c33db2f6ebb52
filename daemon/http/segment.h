// The input contract of the HTTP/1.x parsing: what the kernel capture (http/capture.h) delivers
// per TCP connection, in order. The capture copies only a prefix of each call's bytes; the parser
// accounts bodies by `length` and needs bytes only for start lines, headers and chunk-size lines.
#pragma once

#include <cstdint>
#include <string_view>

namespace netlens::http {

// From the observed process: bytes it read / wrote.
enum class Direction : uint8_t { kRead, kWrite };

// One successful read or write call on the connection.
struct Segment {
  Direction direction;
  uint64_t ts_ns;          // monotonic ns when the call returned
  uint64_t length;         // bytes the call moved (> 0)
  std::string_view bytes;  // the first bytes of those (bytes.size() <= length); the rest not copied
                           // (bodies are accounted by length; sendfile/splice give bytes empty)
  std::string_view tail;   // the last bytes of the call when `bytes` does not reach its end
                           // (at most 16; empty if not copied): where a chunked body's last
                           // chunk shows when its chunk-size lines were not copied
};

// The connection was closed (either side): a body delimited by connection close ends here;
// requests still pending are counted as unanswered.
struct CloseEvent {
  uint64_t ts_ns;
};

}  // namespace netlens::http
