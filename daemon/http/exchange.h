// Pairs the requests and responses of one TCP connection into exchanges, both directions fed
// in the order the capture saw them.
//
// Role, decided once by the first message seen: server if it reads a request (or writes a
// response), client if it writes a request (or reads a response).
// Pairing is FIFO (HTTP/1.1 pipelining answers in order). A final response with no request seen
// for it (the connection was watched mid-stream) is counted in Counters::unmatched_responses and
// invents no exchange; a connection already open when netlens starts counts from its first
// complete request. A message that fails to parse (a counted parse error) keeps its place in
// the FIFO: a lost request's response is dropped, a lost response's request too, so the
// exchanges after it still pair correctly. Likewise a request arriving while max_pending are
// waiting is counted in pending_overflow and its response is dropped.
//
// Times (copied to docs/metrics.md):
// - server: duration = first byte of the request read -> last byte of the response written;
//   time to first byte = first byte of the request read -> first byte of the response written.
// - client: duration = first byte of the request written -> last byte of the response read;
//   time to first byte = first byte of the request written -> first byte of the response read.
// "First/last byte" is the return time of the call that moved it (Segment::ts_ns). Interim 1xx
// responses (100 Continue, 103 Early Hints) are not the response: time to first byte is that of
// the final response. 101 Switching Protocols is final; after it (and after a 2xx to CONNECT)
// the connection is a tunnel and no longer parsed.
//
// Request body bytes are known when the request ends; a response that ends before its request
// does (a server answering early, e.g. 413) carries request_body_bytes 0.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/http_counters.h"
#include "http/message_parser.h"
#include "http/segment.h"

namespace netlens::http {

enum class Role : uint8_t { kUnknown, kServer, kClient };

// The methods of RFC 9110 and PATCH (RFC 5789); every other token is kOther, rendered "_OTHER"
// as OpenTelemetry's semantic conventions do, so a client cannot make series with made-up ones.
enum class Method : uint8_t {
  kGet,
  kHead,
  kPost,
  kPut,
  kDelete,
  kConnect,
  kOptions,
  kTrace,
  kPatch,
  kOther,
};
inline constexpr size_t kMethodCount = 10;

Method MethodOf(std::string_view token);  // case-sensitive, as methods are
std::string_view MethodName(Method method);
std::string_view RoleName(Role role);  // "server", "client", "unknown"

struct Exchange {
  Role role = Role::kUnknown;
  Method method = Method::kOther;
  std::string path;  // Message::path of the request
  std::string host;  // Message::host of the request ("" if none)
  uint16_t status = 0;
  uint64_t request_body_bytes = 0;
  uint64_t response_body_bytes = 0;
  uint64_t request_start_ns = 0;
  uint64_t response_first_byte_ns = 0;
  uint64_t response_last_byte_ns = 0;
  bool operator==(const Exchange&) const = default;
};

struct StitcherLimits {
  size_t max_pending = 32;  // requests awaiting their response (config http_requests.limits)
  ParserLimits parser;
};

class ExchangeStitcher final : private MessageSink {
 public:
  // counters must outlive the stitcher. Not movable: the parsers point back at it.
  explicit ExchangeStitcher(Counters& counters, StitcherLimits limits = {});
  ExchangeStitcher(const ExchangeStitcher&) = delete;
  ExchangeStitcher& operator=(const ExchangeStitcher&) = delete;

  // Completed exchanges are appended to out.
  void OnSegment(const Segment& segment, std::vector<Exchange>& out);
  // Ends a close-delimited response; requests still pending count as unanswered. Later
  // segments are ignored.
  void OnClose(const CloseEvent& close, std::vector<Exchange>& out);

  Role role() const { return role_; }
  size_t pending() const { return pending_.size(); }

 private:
  struct Pending {
    uint64_t seq = 0;
    Method method = Method::kOther;
    std::string path;
    std::string host;
    uint64_t body_bytes = 0;
    uint64_t start_ns = 0;
  };

  Answers OnHead(Direction direction, const Message& head) override;
  void OnEnd(Direction direction, const Message& message) override;
  void OnError(Direction direction, MessageKind kind, bool after_head) override;
  // Decides the role if not yet; false if the message flows the wrong way for the role.
  bool FitsRole(Direction direction, MessageKind kind);
  static bool IsInterim(uint16_t status) { return status / 100 == 1 && status != 101; }

  Counters& counters_;
  StitcherLimits limits_;
  MessageParser read_;
  MessageParser write_;
  Role role_ = Role::kUnknown;
  std::deque<Pending> pending_;
  std::optional<Pending> answering_;  // the request of the response being parsed
  uint64_t request_seq_ = 0;          // requests seen (queued or not)
  uint64_t response_seq_ = 0;         // final responses matched to a seen request
  uint64_t open_request_seq_ = 0;     // the request whose body is being read
  std::array<bool, 2> ignoring_{};    // per direction: the message in progress is off-role
  std::vector<Exchange>* out_ = nullptr;
};

}  // namespace netlens::http
