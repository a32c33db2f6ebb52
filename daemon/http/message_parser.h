// An incremental HTTP/1.0 and 1.1 parser for one direction of a connection. It is fed the
// segments of that direction in order, copies only what metrics need (method, path, Host,
// status) and counts bodies by segment length, never copying them. Framing: Content-Length,
// chunked (extensions, trailers, chunk-size lines split at any byte), close-delimited response
// bodies, no body for HEAD responses and 1xx/204/304, 101 and CONNECT 2xx end HTTP on the
// connection (a tunnel follows). Several messages in one segment (pipelining) are fine.
//
// A chunked body whose next chunk-size line falls in bytes the capture did not copy is skimmed
// (Counters::chunk_framing_lost): its message ends with the first call whose last bytes are the
// last chunk ("\r\n0\r\n\r\n", seen in Segment::tail or the copied bytes), and its body_bytes
// include the chunk framing from there on. Trailers after the last chunk, or a later message in
// the same call, are not seen in that case.
//
// Synchronisation: the parser starts out of sync (the connection may be watched mid-stream) and
// gets in sync at the first valid start line that begins a segment or follows a complete
// message. Out of sync nothing is counted. In sync, an error (http_counters.h ParseError) is
// counted once, the message is dropped and the parser is out of sync again until a later
// segment starts with a start line of its kind (a request line or `HTTP/1.`).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "http/http_counters.h"
#include "http/segment.h"

namespace netlens::http {

struct ParserLimits {
  size_t max_header_bytes = 16 * 1024;  // start line + header fields + empty line; trailers too
  size_t max_headers = 100;             // header field lines (trailer lines too)
};

// Copied parts are bounded: a longer path or Host is cut (and the route works on the cut path).
inline constexpr size_t kMaxPathBytes = 1024;
inline constexpr size_t kMaxHostBytes = 255;
inline constexpr size_t kMaxMethodBytes = 24;  // longer tokens cannot start a request line

enum class MessageKind : uint8_t { kRequest, kResponse };

// One message's metadata. Request fields are empty in responses and the reverse.
struct Message {
  MessageKind kind = MessageKind::kRequest;
  std::string method;   // request: the token as sent ("GET", "PROPFIND")
  std::string path;     // request: the target's path: no query, no fragment; absolute-form reduced
                        // to its path ("" for authority-form, "*" for asterisk-form)
  std::string host;     // request: Host header (or the absolute-form target's authority)
  uint16_t status = 0;  // response: status code (100..999)
  uint64_t body_bytes = 0;     // payload bytes, without chunk framing
  uint64_t first_byte_ns = 0;  // ts of the segment holding the start line's first byte
  uint64_t last_byte_ns = 0;   // ts of the segment holding the message's last byte
};

// What a response's framing depends on: the request it answers.
enum class Answers : uint8_t { kOther, kHead, kConnect };

// Receives the parsed messages, synchronously, during Feed/Close.
class MessageSink {
 public:
  virtual ~MessageSink() = default;
  // Start line and headers are complete. For a response the sink says which request it
  // answers (HEAD: no body; CONNECT: a 2xx opens a tunnel); for a request the value is unused.
  virtual Answers OnHead(Direction direction, const Message& head) = 0;
  // The whole message is complete (body_bytes, last_byte_ns final).
  virtual void OnEnd(Direction direction, const Message& message) = 0;
  // In sync, a message could not be parsed (counted): before its head was delivered, or after.
  // A message was there, so pairing can skip it.
  virtual void OnError(Direction direction, MessageKind kind, bool after_head) = 0;
};

class MessageParser {
 public:
  // counters and sink must outlive the parser.
  MessageParser(Direction direction, MessageSink& sink, Counters& counters,
                ParserLimits limits = {});

  void Feed(const Segment& segment);
  // The connection closed: ends a close-delimited body; a message cut short is kIncomplete.
  void Close(uint64_t ts_ns);
  // What follows is not HTTP (after 101 Switching Protocols or a CONNECT tunnel): ignore it.
  void EnterTunnel() { state_ = State::kTunnel; }
  bool in_sync() const { return synced_; }

 private:
  enum class State : uint8_t {
    kStartLine,     // at a message boundary, reading the start line
    kHeaders,       // header field lines
    kBody,          // Content-Length body: remaining_ bytes
    kChunkSize,     // a chunk-size line
    kChunkData,     // remaining_ bytes of chunk data
    kChunkDataEnd,  // the CRLF after chunk data (remaining_: bytes of it still expected)
    kTrailers,      // trailer field lines after the last chunk
    kCloseBody,     // response body up to connection close
    kChunkSkim,     // chunked body without its framing: up to a call that ends the last chunk
    kUnsynced,      // waiting for a segment that starts with a start line
    kTunnel,        // no longer HTTP
    kClosed,
  };

  // Consumes bytes from segment offset pos; returns the new offset.
  uint64_t Step(const Segment& segment, uint64_t pos);
  // Appends copied bytes up to a line end to line_; true once the line is complete.
  bool ReadLine(const Segment& segment, uint64_t& pos);
  void OnLine(const Segment& segment);
  bool ParseStartLine(std::string_view line);
  bool ParseRequestLine(std::string_view line);
  bool ParseStatusLine(std::string_view line);
  bool OnHeaderLine(std::string_view line);
  void OnHeadersDone(const Segment& segment);
  bool OnChunkSizeLine(std::string_view line);
  void EndMessage(uint64_t ts_ns);
  // kChunkSkim: the rest of the segment is body; ends the message if the call ends the body.
  uint64_t Skim(const Segment& segment, uint64_t pos);
  void Fail(ParseError error);
  void Unsync();
  bool PlausibleStart(std::string_view prefix) const;

  Direction direction_;
  MessageSink& sink_;
  Counters& counters_;
  ParserLimits limits_;

  State state_ = State::kUnsynced;
  bool synced_ = false;
  bool kind_known_ = false;  // locked at the first valid start line
  MessageKind kind_ = MessageKind::kRequest;
  Message message_;
  std::string line_;        // the line being read (start line, field, chunk-size)
  size_t block_bytes_ = 0;  // bytes of the current header block / trailers so far
  size_t field_lines_ = 0;
  uint64_t remaining_ = 0;
  // Framing read from the header fields of the current message.
  bool has_content_length_ = false;
  uint64_t content_length_ = 0;
  bool has_transfer_encoding_ = false;
  bool chunked_ = false;           // the last transfer coding is chunked
  bool host_from_target_ = false;  // absolute- or authority-form: Host is not read
};

}  // namespace netlens::http
