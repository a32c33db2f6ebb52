// Self counters of the HTTP parsing (netlens_http_*): what could not be parsed or paired.
// One Counters object is shared by every connection of a source; parsers and stitchers add to
// it, the families render it. Plain integers: the whole HTTP path runs on one thread.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace netlens::http {

// The `reason` label of netlens_http_parse_errors_total. After any of these the parser drops
// the message and waits for a segment that starts with a start line (resynchronises).
enum class ParseError : uint8_t {
  kTruncated,         // a start line, header or chunk-size line fell in the uncopied bytes
  kStartLine,         // malformed request or status line
  kHeader,            // malformed header field line
  kHeaderTooLarge,    // header block (or trailers) over ParserLimits::max_header_bytes
  kTooManyHeaders,    // over ParserLimits::max_headers field lines
  kContentLength,     // invalid or conflicting Content-Length
  kTransferEncoding,  // a request whose last transfer coding is not chunked
  kChunk,             // malformed chunk-size line or chunk terminator
  kIncomplete,        // the connection closed inside a message that needed more bytes
  kDirection,         // a request where responses flow (or the reverse) once the role is known
};
inline constexpr size_t kParseErrorCount = 10;

constexpr std::string_view ParseErrorName(ParseError error) {
  constexpr std::array<std::string_view, kParseErrorCount> kNames = {
      "truncated",      "start_line",        "header", "header_too_large", "too_many_headers",
      "content_length", "transfer_encoding", "chunk",  "incomplete",       "direction"};
  return kNames[static_cast<size_t>(error)];
}

struct Counters {
  std::array<uint64_t, kParseErrorCount> parse_errors{};
  uint64_t unmatched_responses = 0;  // a final response with no request seen for it
  uint64_t unanswered_requests = 0;  // requests still pending when their connection closed
  uint64_t pending_overflow = 0;     // requests not queued: the connection had too many pending
  // Chunked bodies whose chunk-size lines fell in uncopied bytes: read to the call that ends
  // with the last chunk, their size with the chunk framing (message_parser.h).
  uint64_t chunk_framing_lost = 0;

  void Count(ParseError error) { ++parse_errors[static_cast<size_t>(error)]; }
  uint64_t errors(ParseError error) const { return parse_errors[static_cast<size_t>(error)]; }
};

}  // namespace netlens::http
