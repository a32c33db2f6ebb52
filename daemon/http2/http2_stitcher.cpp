#include "http2/http2_stitcher.h"

#include <algorithm>
#include <charconv>

namespace netlens::http2 {
namespace {

using http::Direction;

Direction Other(Direction direction) {
  return direction == Direction::kRead ? Direction::kWrite : Direction::kRead;
}

// The call's first bytes are (the start of) the client preface.
bool StartsWithPreface(const http::Segment& segment) {
  const size_t n = std::min(segment.bytes.size(), kPreface.size());
  if (n < std::min<uint64_t>(segment.length, 16)) return false;  // too few copied to say
  return n > 0 && segment.bytes.substr(0, n) == kPreface.substr(0, n);
}

// The call starts with a SETTINGS frame that is not an acknowledgement: a server's first word.
bool StartsWithSettings(const http::Segment& segment) {
  if (segment.bytes.size() < kFrameHeaderBytes) return false;
  const auto* h = reinterpret_cast<const uint8_t*>(segment.bytes.data());
  return h[3] == kSettings && h[4] == 0 && FrameReader::Plausible(h, kDefaultMaxFrameSize);
}

int ParseNumber(std::string_view text) {
  int value = -1;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < 0) return -1;
  return value;
}

}  // namespace

int GrpcStatusOfReset(uint32_t error_code) {
  switch (error_code) {
    case 0x7:     // REFUSED_STREAM
      return 14;  // UNAVAILABLE
    case 0x8:     // CANCEL
      return 1;   // CANCELLED
    case 0xb:     // ENHANCE_YOUR_CALM
      return 8;   // RESOURCE_EXHAUSTED
    case 0xc:     // INADEQUATE_SECURITY
      return 7;   // PERMISSION_DENIED
    default:
      return 13;  // INTERNAL
  }
}

void Stitcher::Start(const http::Segment& segment) {
  started_ = true;
  for (const Direction direction : {Direction::kRead, Direction::kWrite}) {
    sinks_[Index(direction)].stitcher = this;
    sinks_[Index(direction)].direction = direction;
  }
  const bool write = segment.direction == Direction::kWrite;
  if (StartsWithPreface(segment)) {
    role_ = write ? Role::kClient : Role::kServer;
    readers_[Index(segment.direction)].SkipPreface();
  } else if (StartsWithSettings(segment)) {
    role_ = write ? Role::kServer : Role::kClient;
    awaiting_preface_ = true;
  } else {
    ++counters_.joined_midstream;
    decoders_[0].Forget();
    decoders_[1].Forget();
  }
}

void Stitcher::OnSegment(const http::Segment& segment, std::vector<Exchange>& out) {
  if (!started_) {
    Start(segment);
  } else if (awaiting_preface_ && FromClient(segment.direction)) {
    awaiting_preface_ = false;
    if (StartsWithPreface(segment)) {
      readers_[Index(segment.direction)].SkipPreface();
    } else {
      ++counters_.joined_midstream;
      decoders_[0].Forget();
      decoders_[1].Forget();
    }
  }
  out_ = &out;
  readers_[Index(segment.direction)].Feed(segment, sinks_[Index(segment.direction)]);
  out_ = nullptr;
}

void Stitcher::OnClose(uint64_t, std::vector<Exchange>& out) {
  out_ = &out;
  ReleaseUndecided();
  out_ = nullptr;
  for (const auto& [id, stream] : streams_) {
    if (stream.lost)
      ++counters_.streams_dropped;
    else
      ++counters_.unanswered;
  }
  streams_.clear();
}

void Stitcher::OnLost(Direction direction) {
  ++counters_.framing_lost;
  decoders_[Index(direction)].Forget();
  Block& block = blocks_[Index(direction)];
  if (block.open) ++counters_.header_blocks_lost;
  block = {};
  for (auto& [id, stream] : streams_) stream.lost = true;
}

void Stitcher::OnFrame(Direction direction, const Frame& frame) {
  Block& block = blocks_[Index(direction)];
  if (block.open && frame.type != kContinuation) {  // RFC 9113 6.10: only CONTINUATION
    ++counters_.protocol_errors;
    ++counters_.header_blocks_lost;
    decoders_[Index(direction)].Forget();
    block = {};
  }
  std::string_view payload = frame.payload;
  switch (frame.type) {
    case kHeaders:
    case kPushPromise: {
      // The fragment: without the pad length, padding, priority or promised stream id.
      bool usable = frame.complete;
      if (usable) {
        size_t pad = 0;
        if (frame.flags & kPadded) {
          usable = !payload.empty();
          if (usable) pad = static_cast<uint8_t>(payload[0]);
          payload.remove_prefix(usable ? 1 : 0);
        }
        const size_t skip = frame.type == kPushPromise ? 4 : (frame.flags & kPriorityFlag) ? 5 : 0;
        usable = usable && payload.size() >= skip + pad;
        if (usable) {
          payload.remove_prefix(skip);
          payload.remove_suffix(pad);
        } else {
          ++counters_.protocol_errors;
        }
      }
      OnHeaderFragment(direction, frame, usable ? payload : std::string_view(), true, usable);
      break;
    }
    case kContinuation:
      if (!block.open || block.stream != frame.stream) {
        ++counters_.protocol_errors;
        ++counters_.header_blocks_lost;
        decoders_[Index(direction)].Forget();
        block = {};
        break;
      }
      OnHeaderFragment(direction, frame, payload, false, frame.complete);
      break;
    case kData: {
      const auto it = streams_.find(frame.stream);
      if (it == streams_.end() || role_ == Role::kUnknown) break;
      uint64_t bytes = frame.length;
      if (frame.pad_length >= 0) bytes -= std::min<uint64_t>(bytes, frame.pad_length + 1);
      Exchange& exchange = it->second.exchange;
      if (FromClient(direction)) {
        exchange.request_body_bytes += bytes;
      } else {
        exchange.response_body_bytes += bytes;
        if (frame.flags & kEndStream) Finish(frame.stream, frame.end_ns);
      }
      break;
    }
    case kRstStream: {
      const auto it = streams_.find(frame.stream);
      if (it == streams_.end()) break;
      Exchange& exchange = it->second.exchange;
      exchange.reset = true;
      ++counters_.streams_reset;
      if (frame.complete && payload.size() == 4 && exchange.grpc && exchange.grpc_status < 0) {
        const auto* p = reinterpret_cast<const uint8_t*>(payload.data());
        exchange.grpc_status =
            GrpcStatusOfReset((uint32_t{p[0]} << 24) | (p[1] << 16) | (p[2] << 8) | p[3]);
      }
      Finish(frame.stream, frame.end_ns);
      break;
    }
    case kSettings:
      if (!(frame.flags & kAck) && frame.complete) OnSettings(direction, frame);
      break;
    default:
      break;  // PRIORITY, PING, GOAWAY, WINDOW_UPDATE, extensions: nothing to count
  }
}

void Stitcher::OnHeaderFragment(Direction direction, const Frame& frame, std::string_view fragment,
                                bool first, bool usable) {
  Block& block = blocks_[Index(direction)];
  if (first) {
    block = {};
    block.open = true;
    block.type = frame.type;
    block.stream = frame.stream;
    block.end_stream = frame.type == kHeaders && (frame.flags & kEndStream);
    block.start_ns = frame.start_ns;
  }
  if (!usable || block.bytes.size() + fragment.size() > kMaxHeaderBlock) {
    block.whole = false;
    block.bytes.clear();
  } else if (block.whole) {
    block.bytes.append(fragment);
  }
  if (frame.flags & kEndHeaders) OnBlock(direction, block, frame.end_ns);
}

void Stitcher::OnBlock(Direction direction, Block& block, uint64_t end_ns) {
  block.open = false;
  HpackDecoder& decoder = decoders_[Index(direction)];
  Fields f;
  if (block.whole) {
    const HpackError error = decoder.Decode(
        block.bytes, [&f](std::string_view name, std::string_view value, FieldKnown known) {
          if (known != FieldKnown::kAll) {
            f.known = false;
            return;
          }
          if (name == ":method") {
            f.method = value;
            f.method_known = true;
          } else if (name == ":path") {
            f.path = value;
            f.path_known = true;
          } else if (name == ":authority") {
            f.authority = value;
          } else if (name == ":status") {
            f.status = ParseNumber(value);
            f.status_known = f.status >= 0;
          } else if (name == "content-type") {
            f.content_type = value;
          } else if (name == "grpc-status") {
            f.grpc_status = ParseNumber(value);
            f.grpc_status_known = f.grpc_status >= 0;
          }
        });
    if (error != HpackError::kNone) f.known = false;
    if (error != HpackError::kNone && error != HpackError::kUnknownState) {
      ++counters_.header_blocks_lost;
      decoder.Forget();  // what it inserts from now on is exact again
    }
  } else {
    ++counters_.header_blocks_lost;
    decoder.Forget();
    f.known = false;
  }
  const uint32_t id = block.stream;
  const bool end_stream = block.end_stream;
  const uint64_t start_ns = block.start_ns;
  if (block.type == kPushPromise) return;  // pushed responses are not requests made
  if (role_ == Role::kUnknown) {           // watched mid-stream: the first block that says
    const bool request = f.method_known || f.path_known;
    if (!request && !f.status_known) return;
    const bool write = direction == Direction::kWrite;
    role_ = request == write ? Role::kClient : Role::kServer;
  }
  const bool grpc_type = f.content_type.starts_with("application/grpc");
  if (FromClient(direction)) {
    if (streams_.count(id)) return;  // the request's trailers
    if (streams_.size() >= kMaxStreams) {
      ++counters_.streams_over_limit;
      return;
    }
    Exchange exchange;
    exchange.role = role_;
    exchange.stream_id = id;
    exchange.known = f.method_known && f.path_known;
    if (!exchange.known) ++counters_.unknown_fields;
    exchange.method = f.method_known ? http::MethodOf(f.method) : http::Method::kOther;
    // An empty :path is malformed but for CONNECT (RFC 9113 8.3.1): counted, not a path.
    if (exchange.known && f.path.empty() && exchange.method != http::Method::kConnect) {
      ++counters_.protocol_errors;
      exchange.known = false;
    }
    // Both or neither: a :path without its :method is not a known request (the header's
    // contract; counted under kUnknownPath like a path not known).
    exchange.path = exchange.known ? f.path : std::string(kUnknownPath);
    exchange.authority = f.authority;
    exchange.grpc = grpc_type;
    exchange.request_start_ns = start_ns;
    // All fields known and no gRPC content-type: not gRPC.
    const bool type_known = grpc_type || f.known;
    streams_.emplace(id, Stream{std::move(exchange), false, type_known});
    return;
  }
  const auto it = streams_.find(id);
  if (it == streams_.end()) return;  // a request not seen (mid-stream), or a pushed stream
  Exchange& exchange = it->second.exchange;
  if (grpc_type || f.grpc_status_known) it->second.type_known = true;
  if (exchange.response_first_byte_ns == 0) {
    if (f.status_known && f.status >= 100 && f.status < 200 && !end_stream) return;  // interim
    exchange.status = f.status_known ? static_cast<uint16_t>(f.status) : 0;
    exchange.response_first_byte_ns = start_ns;
  }
  if (grpc_type) exchange.grpc = true;
  if (f.grpc_status_known) {
    exchange.grpc = true;
    exchange.grpc_status = f.grpc_status;
  }
  if (end_stream) Finish(id, end_ns);
}

void Stitcher::OnSettings(Direction direction, const Frame& frame) {
  // The sender of these settings receives the other direction's frames and header blocks.
  const Direction toward_sender = Other(direction);
  for (size_t i = 0; i + 6 <= frame.payload.size(); i += 6) {
    const auto* p = reinterpret_cast<const uint8_t*>(frame.payload.data() + i);
    const uint16_t id = (p[0] << 8) | p[1];
    const uint32_t value = (uint32_t{p[2]} << 24) | (p[3] << 16) | (p[4] << 8) | p[5];
    if (id == kSettingsHeaderTableSize) {
      decoders_[Index(toward_sender)].SetMaxTableSize(
          std::min<size_t>(value, HpackDecoder::kMaxTableBytes));
    } else if (id == kSettingsMaxFrameSize) {
      readers_[Index(toward_sender)].SetMaxFrameSize(value);
    }
  }
}

void Stitcher::Finish(uint32_t id, uint64_t end_ns) {
  const auto it = streams_.find(id);
  if (it == streams_.end()) return;
  Exchange exchange = std::move(it->second.exchange);
  const bool type_known = it->second.type_known;
  streams_.erase(it);
  exchange.response_end_ns = end_ns;
  if (type_known) {
    if (kind_ == Kind::kUndecided) Decide(exchange.grpc ? Kind::kGrpc : Kind::kHttp);
  } else if (kind_ == Kind::kUndecided) {
    undecided_.push_back(std::move(exchange));
    if (undecided_.size() >= kMaxUndecided) ReleaseUndecided();
    return;
  } else {
    exchange.grpc = kind_ == Kind::kGrpc;
  }
  if (out_) out_->push_back(std::move(exchange));
}

void Stitcher::Decide(Kind kind) {
  kind_ = kind;
  for (Exchange& exchange : undecided_) {
    exchange.grpc = kind == Kind::kGrpc;
    if (out_) out_->push_back(std::move(exchange));
  }
  undecided_.clear();
}

void Stitcher::ReleaseUndecided() {
  counters_.type_unknown += undecided_.size();
  for (Exchange& exchange : undecided_) {
    if (out_) out_->push_back(std::move(exchange));
  }
  undecided_.clear();
}

}  // namespace netlens::http2
