// HTTP/2 (RFC 9113) as the stitcher reads it (issue 19): frame types and flags, the client
// preface, what one stream becomes (an Exchange) and the parser's self counts. gRPC is HTTP/2
// with content-type application/grpc, the method in :path ("/package.Service/Method") and the
// status in the grpc-status trailer (or the headers of a trailers-only response).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "http/exchange.h"  // Role, Method

namespace netlens::http2 {

using http::Role;

inline constexpr size_t kFrameHeaderBytes = 9;
inline constexpr uint32_t kDefaultMaxFrameSize = 16384;
inline constexpr uint16_t kSettingsHeaderTableSize = 0x1;
inline constexpr uint16_t kSettingsMaxFrameSize = 0x5;
// The client connection preface (RFC 9113 3.4), before the client's SETTINGS.
inline constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// RFC 9113 section 6's frame types, 0x0 to 0x9 in order.
enum FrameType : uint8_t {
  kData,
  kHeaders,
  kPriority,
  kRstStream,
  kSettings,
  kPushPromise,
  kPing,
  kGoaway,
  kWindowUpdate,
  kContinuation,
};
inline constexpr uint8_t kLastFrameType = kContinuation;  // above: extension frames, skipped

enum FrameFlag : uint8_t {
  kEndStream = 0x1,  // DATA, HEADERS
  kAck = 0x1,        // SETTINGS, PING
  kEndHeaders = 0x4,
  kPadded = 0x8,
  kPriorityFlag = 0x20,
};

// The path of a request whose header block referred to HPACK state netlens did not see (a
// connection watched mid-stream, or a header block not copied): never guessed.
inline constexpr std::string_view kUnknownPath = "/{unknown}";

// One stream: a request and its response.
struct Exchange {
  Role role = Role::kUnknown;
  uint32_t stream_id = 0;
  http::Method method = http::Method::kOther;
  std::string path;       // :path ("" for CONNECT), kUnknownPath when not known
  std::string authority;  // :authority
  bool known = true;      // false: the request's fields were not all known (path kUnknownPath)
  bool grpc = false;      // the request's content-type is application/grpc[+proto, ...]
  uint16_t status = 0;    // the final :status; 0 when none came (reset, connection ended)
  int grpc_status = -1;   // grpc-status of the trailers (or of a trailers-only response); -1: none
  bool reset = false;     // ended by RST_STREAM (either side), not by END_STREAM
  uint64_t request_body_bytes = 0;      // DATA payload bytes without padding
  uint64_t response_body_bytes = 0;     // ditto
  uint64_t request_start_ns = 0;        // the call with the request HEADERS frame's first byte
  uint64_t response_first_byte_ns = 0;  // the call with the final response HEADERS frame
  uint64_t response_end_ns = 0;         // the call with the response's END_STREAM (or the reset)
  bool operator==(const Exchange&) const = default;
};

// netlens_http2_parser_events_total{event}: one Counters shared by a source's connections.
struct Counters {
  uint64_t joined_midstream = 0;    // connections first seen after their preface
  uint64_t unknown_fields = 0;      // streams whose request headers were not all known
  uint64_t framing_lost = 0;        // a frame header fell in bytes the capture did not copy
  uint64_t resynced = 0;            // ... and frames were found again at a later call
  uint64_t header_blocks_lost = 0;  // header blocks not copied whole, or that did not decode
  uint64_t streams_reset = 0;       // streams ended by RST_STREAM
  uint64_t streams_over_limit = 0;  // streams not followed: kMaxStreams were open
  uint64_t streams_dropped = 0;     // open streams given up (their frames lost, or never ended)
  uint64_t unanswered = 0;          // streams open when the connection closed
  uint64_t protocol_errors = 0;     // frames against RFC 9113 (CONTINUATION out of place, ...)
  // Streams of a connection joined mid-stream counted as plain HTTP/2 requests: nothing told
  // whether they were gRPC (Stitcher::kMaxUndecided).
  uint64_t type_unknown = 0;
  // Plain HTTP/2 streams that ended without a known final :status (its header block lost):
  // not in the HTTP families, which have no status for them.
  uint64_t status_unknown = 0;
};
// The event label of each count, in render order.
inline constexpr std::pair<const char*, uint64_t Counters::*> kCounterEvents[] = {
    {"joined_midstream", &Counters::joined_midstream},
    {"unknown_fields", &Counters::unknown_fields},
    {"framing_lost", &Counters::framing_lost},
    {"resynced", &Counters::resynced},
    {"header_blocks_lost", &Counters::header_blocks_lost},
    {"streams_reset", &Counters::streams_reset},
    {"streams_over_limit", &Counters::streams_over_limit},
    {"streams_dropped", &Counters::streams_dropped},
    {"unanswered", &Counters::unanswered},
    {"protocol_errors", &Counters::protocol_errors},
    {"type_unknown", &Counters::type_unknown},
    {"status_unknown", &Counters::status_unknown},
};

}  // namespace netlens::http2
