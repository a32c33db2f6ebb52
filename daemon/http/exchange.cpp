#include "http/exchange.h"

#include <utility>

namespace netlens::http {
namespace {

constexpr std::array<std::string_view, kMethodCount> kMethodNames = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "_OTHER"};

Answers AnswersOf(Method method) {
  if (method == Method::kHead) return Answers::kHead;
  if (method == Method::kConnect) return Answers::kConnect;
  return Answers::kOther;
}

size_t Index(Direction direction) { return direction == Direction::kRead ? 0 : 1; }

}  // namespace

Method MethodOf(std::string_view token) {
  for (size_t i = 0; i + 1 < kMethodCount; ++i) {
    if (kMethodNames[i] == token) return static_cast<Method>(i);
  }
  return Method::kOther;
}

std::string_view MethodName(Method method) { return kMethodNames[static_cast<size_t>(method)]; }

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kServer:
      return "server";
    case Role::kClient:
      return "client";
    case Role::kUnknown:
      break;
  }
  return "unknown";
}

ExchangeStitcher::ExchangeStitcher(Counters& counters, StitcherLimits limits)
    : counters_(counters),
      limits_(limits),
      read_(Direction::kRead, *this, counters, limits.parser),
      write_(Direction::kWrite, *this, counters, limits.parser) {}

void ExchangeStitcher::OnSegment(const Segment& segment, std::vector<Exchange>& out) {
  out_ = &out;
  (segment.direction == Direction::kRead ? read_ : write_).Feed(segment);
  out_ = nullptr;
}

void ExchangeStitcher::OnClose(const CloseEvent& close, std::vector<Exchange>& out) {
  out_ = &out;
  // Responses first: a close-delimited one ends here and still finds its request.
  (role_ == Role::kClient ? read_ : write_).Close(close.ts_ns);
  (role_ == Role::kClient ? write_ : read_).Close(close.ts_ns);
  out_ = nullptr;
  counters_.unanswered_requests += pending_.size();
  pending_.clear();
  answering_.reset();
}

bool ExchangeStitcher::FitsRole(Direction direction, MessageKind kind) {
  const bool request = kind == MessageKind::kRequest;
  const bool read = direction == Direction::kRead;
  if (role_ == Role::kUnknown) role_ = (request == read) ? Role::kServer : Role::kClient;
  const bool fits = (role_ == Role::kServer) == (request == read);
  ignoring_[Index(direction)] = !fits;
  if (!fits) counters_.Count(ParseError::kDirection);
  return fits;
}

Answers ExchangeStitcher::OnHead(Direction direction, const Message& head) {
  if (!FitsRole(direction, head.kind)) return Answers::kOther;
  if (head.kind == MessageKind::kRequest) {
    open_request_seq_ = request_seq_++;
    if (pending_.size() >= limits_.max_pending) {
      ++counters_.pending_overflow;
      return Answers::kOther;
    }
    pending_.push_back(Pending{.seq = open_request_seq_,
                               .method = MethodOf(head.method),
                               .path = head.path,
                               .host = head.host,
                               .body_bytes = 0,
                               .start_ns = head.first_byte_ns});
    return Answers::kOther;
  }
  if (IsInterim(head.status)) return Answers::kOther;
  // A response whose own parse failed left its request here: already counted as a parse error.
  answering_.reset();
  if (response_seq_ < request_seq_) {
    // The request it answers was seen; it is queued unless it overflowed the queue.
    if (!pending_.empty() && pending_.front().seq == response_seq_) {
      answering_ = std::move(pending_.front());
      pending_.pop_front();
    }
    ++response_seq_;
  } else {
    ++counters_.unmatched_responses;
  }
  return answering_ ? AnswersOf(answering_->method) : Answers::kOther;
}

void ExchangeStitcher::OnError(Direction direction, MessageKind kind, bool after_head) {
  // A start line was read, so the message may decide the role.
  if (after_head || !FitsRole(direction, kind)) {
    if (after_head && kind == MessageKind::kResponse) answering_.reset();
    return;
  }
  if (kind == MessageKind::kRequest) {
    // A request that never reached the queue: its seq stays taken, so its response is dropped.
    ++request_seq_;
    return;
  }
  answering_.reset();
  if (response_seq_ < request_seq_) {
    // The lost response answered the oldest request.
    if (!pending_.empty() && pending_.front().seq == response_seq_) pending_.pop_front();
    ++response_seq_;
  }
}

void ExchangeStitcher::OnEnd(Direction direction, const Message& message) {
  if (ignoring_[Index(direction)]) return;
  if (message.kind == MessageKind::kRequest) {
    for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {
      if (it->seq == open_request_seq_) {
        it->body_bytes = message.body_bytes;
        return;
      }
    }
    if (answering_ && answering_->seq == open_request_seq_) {
      answering_->body_bytes = message.body_bytes;
    }
    return;
  }
  if (IsInterim(message.status) || !answering_) return;
  Pending request = std::move(*answering_);
  answering_.reset();
  const bool tunnel =
      message.status == 101 || (request.method == Method::kConnect && message.status / 100 == 2);
  if (out_ != nullptr) {
    out_->push_back(Exchange{.role = role_,
                             .method = request.method,
                             .path = std::move(request.path),
                             .host = std::move(request.host),
                             .status = message.status,
                             .request_body_bytes = request.body_bytes,
                             .response_body_bytes = message.body_bytes,
                             .request_start_ns = request.start_ns,
                             .response_first_byte_ns = message.first_byte_ns,
                             .response_last_byte_ns = message.last_byte_ns});
  }
  // The response parser stopped by itself; the requests' side follows.
  if (tunnel) (role_ == Role::kServer ? read_ : write_).EnterTunnel();
}

}  // namespace netlens::http
