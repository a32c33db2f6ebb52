#include "http/message_parser.h"

#include <algorithm>
#include <cstring>
#include <optional>

namespace netlens::http {
namespace {

// A chunk-size line with its extensions; longer is malformed.
constexpr size_t kMaxChunkLineBytes = 4096;
constexpr std::string_view kResponsePrefix = "HTTP/1.";
// How much of a start line is checked for plausibility as it arrives.
constexpr size_t kPlausibleCheckBytes = 256;

bool IsTchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

bool IsToken(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), IsTchar); }

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return Lower(x) == y; });
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IsVersion(std::string_view v) {
  return v.size() == 8 && v.substr(0, 7) == kResponsePrefix && v[7] >= '0' && v[7] <= '9';
}

// Content-Length: digits, or a list of equal values ("5, 5", RFC 9110 8.6).
std::optional<uint64_t> ParseContentLength(std::string_view value) {
  std::optional<uint64_t> result;
  while (true) {
    const size_t comma = value.find(',');
    const std::string_view item = TrimOws(value.substr(0, comma));
    // 18 digits cannot overflow and exceed any real body.
    if (item.empty() || item.size() > 18 ||
        !std::all_of(item.begin(), item.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return std::nullopt;
    }
    uint64_t n = 0;
    for (const char c : item) n = n * 10 + static_cast<uint64_t>(c - '0');
    if (result && *result != n) return std::nullopt;
    result = n;
    if (comma == std::string_view::npos) return result;
    value.remove_prefix(comma + 1);
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool HasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

// Whether `prefix` can begin a status line: "HTTP/1.x NNN".
bool PlausibleStatusLine(std::string_view prefix) {
  constexpr std::string_view kShape = "HTTP/1.0 000";
  for (size_t i = 0; i < std::min(prefix.size(), kShape.size()); ++i) {
    const bool digit = prefix[i] >= '0' && prefix[i] <= '9';
    if (kShape[i] == '0' ? !digit : prefix[i] != kShape[i]) return false;
  }
  return true;
}

// Whether `prefix` can begin a request line: "METHOD target HTTP/1.x", the target without
// spaces or controls. Out of sync, this keeps body bytes that happen to start with a word
// from swallowing the request line of the next segment.
bool PlausibleRequestLine(std::string_view prefix) {
  size_t i = 0;
  while (i < prefix.size() && IsTchar(prefix[i])) ++i;
  if (i > kMaxMethodBytes) return false;
  if (i == prefix.size()) return true;
  if (i == 0 || prefix[i] != ' ') return false;
  const std::string_view rest = prefix.substr(i + 1);
  const size_t space = rest.find(' ');
  if (HasControl(rest.substr(0, space))) return false;
  if (space == std::string_view::npos) return true;
  if (space == 0) return false;
  const std::string_view version = rest.substr(space + 1);
  constexpr std::string_view kShape = "HTTP/1.0";
  if (version.size() > kShape.size()) return false;
  for (size_t j = 0; j < version.size(); ++j) {
    const bool digit = version[j] >= '0' && version[j] <= '9';
    if (kShape[j] == '0' ? !digit : version[j] != kShape[j]) return false;
  }
  return true;
}

}  // namespace

MessageParser::MessageParser(Direction direction, MessageSink& sink, Counters& counters,
                             ParserLimits limits)
    : direction_(direction), sink_(sink), counters_(counters), limits_(limits) {}

bool MessageParser::PlausibleStart(std::string_view prefix) const {
  if (!prefix.empty() && prefix.back() == '\r') prefix.remove_suffix(1);
  const bool request_ok = !kind_known_ || kind_ == MessageKind::kRequest;
  const bool response_ok = !kind_known_ || kind_ == MessageKind::kResponse;
  return (response_ok && PlausibleStatusLine(prefix)) ||
         (request_ok && PlausibleRequestLine(prefix));
}

void MessageParser::Feed(const Segment& segment) {
  if (state_ == State::kTunnel || state_ == State::kClosed) return;
  if (state_ == State::kUnsynced) {
    // Only a segment that starts with a start line can bring the parser back in step.
    if (segment.bytes.empty() ||
        !PlausibleStart(segment.bytes.substr(0, segment.bytes.find('\n')))) {
      return;
    }
    state_ = State::kStartLine;
  }
  uint64_t pos = 0;
  while (pos < segment.length && state_ != State::kUnsynced && state_ != State::kTunnel) {
    pos = Step(segment, pos);
  }
}

uint64_t MessageParser::Step(const Segment& segment, uint64_t pos) {
  const uint64_t available = segment.length - pos;
  switch (state_) {
    case State::kStartLine:
    case State::kHeaders:
    case State::kChunkSize:
    case State::kTrailers: {
      if (pos >= segment.bytes.size()) {
        if (state_ == State::kChunkSize && line_.empty()) {
          // A chunk-size line not copied: the body's end can still be told by its last chunk.
          ++counters_.chunk_framing_lost;
          state_ = State::kChunkSkim;
          return Skim(segment, pos);
        }
        // Bytes the parser needs were not copied: this message cannot be read.
        Fail(ParseError::kTruncated);
        return segment.length;
      }
      if (state_ == State::kStartLine && line_.empty()) message_.first_byte_ns = segment.ts_ns;
      if (ReadLine(segment, pos)) OnLine(segment);
      return pos;
    }
    case State::kBody:
    case State::kChunkData: {
      const uint64_t n = std::min(remaining_, available);
      message_.body_bytes += n;
      remaining_ -= n;
      if (remaining_ == 0) {
        if (state_ == State::kBody) {
          EndMessage(segment.ts_ns);
        } else {
          state_ = State::kChunkDataEnd;
          remaining_ = 2;
        }
      }
      return pos + n;
    }
    case State::kChunkDataEnd: {
      if (pos >= segment.bytes.size()) {
        // Not copied: taken to be the CRLF it must be; the next chunk-size line is checked.
        const uint64_t n = std::min(remaining_, available);
        remaining_ -= n;
        if (remaining_ == 0) state_ = State::kChunkSize;
        return pos + n;
      }
      const char c = segment.bytes[pos];
      if (c == '\r' && remaining_ == 2) {
        remaining_ = 1;
      } else if (c == '\n') {
        state_ = State::kChunkSize;
      } else {
        Fail(ParseError::kChunk);
        return segment.length;
      }
      return pos + 1;
    }
    case State::kCloseBody:
      message_.body_bytes += available;
      message_.last_byte_ns = segment.ts_ns;
      return segment.length;
    case State::kChunkSkim:
      return Skim(segment, pos);
    case State::kUnsynced:
    case State::kTunnel:
    case State::kClosed:
      break;
  }
  return segment.length;
}

bool MessageParser::ReadLine(const Segment& segment, uint64_t& pos) {
  const std::string_view rest = segment.bytes.substr(pos);
  const size_t newline = rest.find('\n');
  const std::string_view part = rest.substr(0, newline);
  const size_t consumed = part.size() + (newline == std::string_view::npos ? 0 : 1);
  if (state_ == State::kChunkSize) {
    if (line_.size() + part.size() > kMaxChunkLineBytes) {
      Fail(ParseError::kChunk);
      pos = segment.length;
      return false;
    }
  } else {
    block_bytes_ += consumed;
    if (block_bytes_ > limits_.max_header_bytes) {
      Fail(ParseError::kHeaderTooLarge);
      pos = segment.length;
      return false;
    }
  }
  const size_t before = line_.size();
  line_.append(part);
  pos += consumed;
  // Garbage at a message boundary is rejected at its first bytes, not after 16 KiB. Checked
  // while the line is short, so a line fed byte by byte costs no quadratic time; a long line
  // is checked whole when it ends.
  if (state_ == State::kStartLine && before < kPlausibleCheckBytes && !PlausibleStart(line_)) {
    Fail(ParseError::kStartLine);
    pos = segment.length;
    return false;
  }
  if (newline == std::string_view::npos) return false;
  if (!line_.empty() && line_.back() == '\r') line_.pop_back();
  return true;
}

void MessageParser::OnLine(const Segment& segment) {
  const std::string_view line = line_;
  switch (state_) {
    case State::kStartLine:
      if (line.empty()) {
        block_bytes_ = 0;  // empty lines before a start line are ignored (RFC 9112 2.2)
        break;
      }
      if (!ParseStartLine(line)) {
        Fail(ParseError::kStartLine);
        return;
      }
      synced_ = true;
      kind_known_ = true;
      kind_ = message_.kind;
      state_ = State::kHeaders;
      break;
    case State::kHeaders:
      if (line.empty()) {
        line_.clear();
        OnHeadersDone(segment);
        return;
      }
      if (++field_lines_ > limits_.max_headers) {
        Fail(ParseError::kTooManyHeaders);
        return;
      }
      if (!OnHeaderLine(line)) return;  // failed inside
      break;
    case State::kChunkSize:
      if (!OnChunkSizeLine(line)) {
        Fail(ParseError::kChunk);
        return;
      }
      break;
    case State::kTrailers:
      if (line.empty()) {
        line_.clear();
        EndMessage(segment.ts_ns);
        return;
      }
      if (++field_lines_ > limits_.max_headers) {
        Fail(ParseError::kTooManyHeaders);
        return;
      }
      break;
    default:
      break;
  }
  line_.clear();
}

bool MessageParser::ParseStartLine(std::string_view line) {
  const uint64_t first_byte_ns = message_.first_byte_ns;
  message_ = Message{};
  message_.first_byte_ns = first_byte_ns;
  has_content_length_ = false;
  content_length_ = 0;
  has_transfer_encoding_ = false;
  chunked_ = false;
  field_lines_ = 0;
  host_from_target_ = false;
  const bool response = line.substr(0, kResponsePrefix.size()) == kResponsePrefix;
  if (kind_known_ && response != (kind_ == MessageKind::kResponse)) return false;
  return response ? ParseStatusLine(line) : ParseRequestLine(line);
}

bool MessageParser::ParseRequestLine(std::string_view line) {
  const size_t first = line.find(' ');
  const size_t last = line.rfind(' ');
  if (first == std::string_view::npos || first == last) return false;
  const std::string_view method = line.substr(0, first);
  const std::string_view target = line.substr(first + 1, last - first - 1);
  if (method.size() > kMaxMethodBytes || !IsToken(method) || !IsVersion(line.substr(last + 1)) ||
      target.empty() || HasControl(target)) {
    return false;
  }
  message_.kind = MessageKind::kRequest;
  message_.method.assign(method);
  std::string_view path;
  if (target.front() == '/') {
    path = target;  // origin-form
  } else if (target == "*") {
    path = target;  // asterisk-form (OPTIONS *)
  } else if (const size_t scheme_end = target.find("://"); scheme_end != std::string_view::npos &&
                                                           scheme_end > 0 &&
                                                           target.find('/') > scheme_end) {
    // absolute-form: the authority is the host (it overrides Host, RFC 9112 3.2.2).
    std::string_view rest = target.substr(scheme_end + 3);
    const size_t authority_end = rest.find_first_of("/?#");
    std::string_view authority = rest.substr(0, authority_end);
    if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
      authority.remove_prefix(at + 1);  // userinfo
    }
    message_.host.assign(authority.substr(0, kMaxHostBytes));
    host_from_target_ = true;
    path =
        authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
    if (path.empty() || path.front() != '/') path = "/";
  } else {
    // authority-form (CONNECT host:port): no path.
    message_.host.assign(target.substr(0, kMaxHostBytes));
    host_from_target_ = true;
    path = {};
  }
  path = path.substr(0, path.find_first_of("?#"));
  message_.path.assign(path.substr(0, kMaxPathBytes));
  return true;
}

bool MessageParser::ParseStatusLine(std::string_view line) {
  // HTTP/1.x SP 3DIGIT [SP reason]
  if (line.size() < 12 || !IsVersion(line.substr(0, 8)) || line[8] != ' ' ||
      (line.size() > 12 && line[12] != ' ')) {
    return false;
  }
  uint16_t status = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') return false;
    status = static_cast<uint16_t>(status * 10 + (line[i] - '0'));
  }
  if (status < 100) return false;
  message_.kind = MessageKind::kResponse;
  message_.status = status;
  return true;
}

bool MessageParser::OnHeaderLine(std::string_view line) {
  if (line.front() == ' ' || line.front() == '\t') return true;  // obs-fold: ignored
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || !IsToken(line.substr(0, colon))) {
    Fail(ParseError::kHeader);
    return false;
  }
  const std::string_view name = line.substr(0, colon);
  const std::string_view value = TrimOws(line.substr(colon + 1));
  if (EqualsIgnoreCase(name, "content-length")) {
    const auto length = ParseContentLength(value);
    if (!length || (has_content_length_ && *length != content_length_)) {
      Fail(ParseError::kContentLength);
      return false;
    }
    has_content_length_ = true;
    content_length_ = *length;
  } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
    has_transfer_encoding_ = true;
    const size_t comma = value.rfind(',');
    const std::string_view last =
        TrimOws(comma == std::string_view::npos ? value : value.substr(comma + 1));
    chunked_ = EqualsIgnoreCase(last, "chunked");
  } else if (EqualsIgnoreCase(name, "host") && !host_from_target_) {
    message_.host.assign(value.substr(0, kMaxHostBytes));
  }
  return true;
}

void MessageParser::OnHeadersDone(const Segment& segment) {
  message_.last_byte_ns = segment.ts_ns;
  if (message_.kind == MessageKind::kRequest) {
    // RFC 9112 6.3: Transfer-Encoding wins over Content-Length; a request must end in chunked.
    if (has_transfer_encoding_ && !chunked_) {
      Fail(ParseError::kTransferEncoding);
      return;
    }
    sink_.OnHead(direction_, message_);
    if (chunked_) {
      state_ = State::kChunkSize;
    } else if (content_length_ > 0) {
      state_ = State::kBody;
      remaining_ = content_length_;
    } else {
      EndMessage(segment.ts_ns);
    }
    return;
  }
  const Answers answers = sink_.OnHead(direction_, message_);
  const uint16_t status = message_.status;
  const bool tunnel = status == 101 || (answers == Answers::kConnect && status / 100 == 2);
  if (tunnel || status / 100 == 1 || status == 204 || status == 304 || answers == Answers::kHead) {
    EndMessage(segment.ts_ns);
    if (tunnel) EnterTunnel();
  } else if (has_transfer_encoding_) {
    state_ = chunked_ ? State::kChunkSize : State::kCloseBody;
  } else if (has_content_length_) {
    if (content_length_ == 0) {
      EndMessage(segment.ts_ns);
    } else {
      state_ = State::kBody;
      remaining_ = content_length_;
    }
  } else {
    state_ = State::kCloseBody;
  }
}

bool MessageParser::OnChunkSizeLine(std::string_view line) {
  size_t i = 0;
  while (i < line.size() && line[i] == '0') ++i;
  const size_t zeros = i;
  uint64_t size = 0;
  for (; i < line.size() && HexValue(line[i]) >= 0; ++i) {
    if (i - zeros >= 15) return false;  // over 2^60: no real chunk
    size = size * 16 + static_cast<uint64_t>(HexValue(line[i]));
  }
  if (i == 0) return false;
  const std::string_view rest = TrimOws(line.substr(i));
  if (!rest.empty() && rest.front() != ';') return false;  // chunk extensions are skipped
  if (size == 0) {
    state_ = State::kTrailers;
    block_bytes_ = 0;
    field_lines_ = 0;
  } else {
    state_ = State::kChunkData;
    remaining_ = size;
  }
  return true;
}

uint64_t MessageParser::Skim(const Segment& segment, uint64_t pos) {
  constexpr std::string_view kLastChunk = "\r\n0\r\n\r\n";
  // The call's last bytes: its tail, or the copied bytes when they reach its end.
  const std::string_view end = !segment.tail.empty()                    ? segment.tail
                               : segment.bytes.size() == segment.length ? segment.bytes
                                                                        : std::string_view();
  const uint64_t available = segment.length - pos;
  // The last chunk in a call of its own ("0\r\n\r\n") follows the previous chunk's CRLF.
  const bool last =
      end.ends_with(kLastChunk) || (pos == 0 && segment.bytes == kLastChunk.substr(2));
  if (!last) {
    message_.body_bytes += available;
    return segment.length;
  }
  message_.body_bytes += available - std::min<uint64_t>(available, kLastChunk.size());
  EndMessage(segment.ts_ns);
  return segment.length;
}

void MessageParser::EndMessage(uint64_t ts_ns) {
  message_.last_byte_ns = ts_ns;
  state_ = State::kStartLine;
  line_.clear();
  block_bytes_ = 0;
  sink_.OnEnd(direction_, message_);
}

void MessageParser::Close(uint64_t /*ts_ns*/) {
  if (state_ == State::kCloseBody) {
    EndMessage(message_.last_byte_ns);  // the last byte came with the last data, not the close
  } else if (synced_ && state_ != State::kUnsynced && state_ != State::kTunnel &&
             state_ != State::kClosed && !(state_ == State::kStartLine && line_.empty())) {
    counters_.Count(ParseError::kIncomplete);
  }
  state_ = State::kClosed;
}

void MessageParser::Fail(ParseError error) {
  if (synced_) {
    counters_.Count(error);
    const bool after_head = state_ != State::kStartLine && state_ != State::kHeaders;
    Unsync();
    sink_.OnError(direction_, kind_, after_head);
    return;
  }
  Unsync();
}

void MessageParser::Unsync() {
  state_ = State::kUnsynced;
  synced_ = false;
  line_.clear();
  block_bytes_ = 0;
}

}  // namespace netlens::http
