#include "http2/frame_reader.h"

#include <algorithm>

namespace netlens::http2 {
namespace {

uint32_t Length24(const uint8_t* h) { return (h[0] << 16) | (h[1] << 8) | h[2]; }

// The byte at `pos` of the call if the capture has it: in the copied prefix or in the tail.
int ByteAt(const http::Segment& segment, uint64_t pos) {
  if (pos < segment.bytes.size()) return static_cast<uint8_t>(segment.bytes[pos]);
  const uint64_t tail_start = segment.length - segment.tail.size();
  if (!segment.tail.empty() && pos >= tail_start && pos < segment.length)
    return static_cast<uint8_t>(segment.tail[pos - tail_start]);
  return -1;
}

}  // namespace

bool FrameReader::Plausible(const uint8_t* h, uint32_t max_frame) {
  const uint32_t length = Length24(h);
  const uint8_t type = h[3], flags = h[4];
  const uint32_t stream = ((h[5] & 0x7fu) << 24) | (h[6] << 16) | (h[7] << 8) | h[8];
  if ((h[5] & 0x80) || length > max_frame) return false;
  switch (type) {
    case kData:
      return stream != 0 && (flags & ~0x09) == 0;
    case kHeaders:
      return stream != 0 && (flags & ~0x2d) == 0 && length > 0;
    case kPriority:
      return stream != 0 && flags == 0 && length == 5;
    case kRstStream:
      return stream != 0 && flags == 0 && length == 4;
    case kSettings:
      return stream == 0 && (flags == kAck ? length == 0 : flags == 0 && length % 6 == 0);
    case kPushPromise:
      return stream != 0 && (flags & ~0x0c) == 0 && length >= 4;
    case kPing:
      return stream == 0 && (flags & ~kAck) == 0 && length == 8;
    case kGoaway:
      return stream == 0 && flags == 0 && length >= 8;
    case kWindowUpdate:
      return flags == 0 && length == 4;
    case kContinuation:
      return stream != 0 && (flags & ~kEndHeaders) == 0;
    default:
      return false;  // an extension frame: nothing to check it by
  }
}

void FrameReader::StartFrame() {
  frame_.length = Length24(header_);
  frame_.type = header_[3];
  frame_.flags = header_[4];
  frame_.stream =
      ((header_[5] & 0x7fu) << 24) | (header_[6] << 16) | (header_[7] << 8) | header_[8];
  remaining_ = frame_.length;
  kept_.clear();
  kept_gap_ = false;
}

void FrameReader::Deliver(Sink& sink, uint64_t ts_ns) {
  frame_.end_ns = ts_ns;
  frame_.pad_length = -1;
  if (frame_.type == kData) {
    frame_.payload = {};
    frame_.complete = true;
    if ((frame_.flags & kPadded) && !kept_.empty())
      frame_.pad_length = static_cast<uint8_t>(kept_[0]);
  } else {
    frame_.payload = kept_;
    frame_.complete = !kept_gap_ && kept_.size() == frame_.length;
  }
  sink.OnFrame(frame_);
}

bool FrameReader::ChainFits(const http::Segment& segment) const {
  const auto* bytes = reinterpret_cast<const uint8_t*>(segment.bytes.data());
  const uint64_t copied = segment.bytes.size();
  uint64_t pos = 0;
  size_t headers = 0;
  while (pos + kFrameHeaderBytes <= copied) {
    if (!Plausible(bytes + pos, max_frame_)) return false;
    ++headers;
    pos += kFrameHeaderBytes + Length24(bytes + pos);
    if (pos >= segment.length) return true;
  }
  return headers > 0;
}

void FrameReader::TryTail(const http::Segment& segment, Sink& sink) {
  // The call's last bytes, where the capture has them.
  std::string end;
  if (!segment.tail.empty()) {
    end = segment.tail;
  } else if (segment.bytes.size() == segment.length) {
    end = segment.bytes.substr(segment.bytes.size() - std::min<size_t>(16, segment.bytes.size()));
  }
  if (end.size() < kFrameHeaderBytes) return;
  const auto* e = reinterpret_cast<const uint8_t*>(end.data());
  int found = -1;
  for (size_t k = 0; k + kFrameHeaderBytes <= end.size(); ++k) {
    if (k + kFrameHeaderBytes + Length24(e + k) != end.size() || !Plausible(e + k, max_frame_))
      continue;
    if (found >= 0) return;  // two readings: neither is sure
    found = static_cast<int>(k);
  }
  if (found < 0) return;
  std::copy(e + found, e + found + kFrameHeaderBytes, header_);
  StartFrame();
  kept_.assign(end, found + kFrameHeaderBytes);
  synced_ = true;
  header_have_ = 0;
  in_payload_ = false;
  sink.OnResynced();
  frame_.start_ns = segment.ts_ns;
  Deliver(sink, segment.ts_ns);
}

void FrameReader::Feed(const http::Segment& segment, Sink& sink) {
  if (!synced_) {
    if (!ChainFits(segment)) {
      TryTail(segment, sink);
      return;
    }
    synced_ = true;
    header_have_ = 0;
    in_payload_ = false;
    preface_left_ = 0;
    sink.OnResynced();
  }
  const uint64_t copied = segment.bytes.size();
  const uint64_t length = segment.length;
  uint64_t pos = 0;
  if (preface_left_ > 0) {
    const uint64_t n = std::min<uint64_t>(preface_left_, length);
    pos += n;
    preface_left_ -= n;
  }
  while (pos < length) {
    if (!in_payload_) {
      const int byte = ByteAt(segment, pos);
      if (byte < 0) {  // a header the capture did not copy
        synced_ = false;
        header_have_ = 0;
        sink.OnLost();
        TryTail(segment, sink);
        return;
      }
      if (header_have_ == 0) frame_.start_ns = segment.ts_ns;
      header_[header_have_++] = static_cast<uint8_t>(byte);
      ++pos;
      if (header_have_ < kFrameHeaderBytes) continue;
      header_have_ = 0;
      StartFrame();
      if (frame_.length == 0) {
        Deliver(sink, segment.ts_ns);
        continue;
      }
      in_payload_ = true;
      continue;
    }
    const uint64_t keep = frame_.type != kData ? kMaxKeptPayload : (frame_.flags & kPadded) ? 1 : 0;
    const uint64_t offset = frame_.length - remaining_;
    uint64_t n = std::min<uint64_t>(remaining_, length - pos);
    if (offset < keep) {
      n = std::min<uint64_t>(n, keep - offset);
      if (!kept_gap_ && pos + n <= copied) {
        kept_.append(segment.bytes.substr(pos, n));
      } else {
        for (uint64_t i = 0; i < n && !kept_gap_; ++i) {
          const int byte = ByteAt(segment, pos + i);
          if (byte < 0)
            kept_gap_ = true;
          else
            kept_.push_back(static_cast<char>(byte));
        }
      }
    }
    pos += n;
    remaining_ -= n;
    if (remaining_ == 0) {
      in_payload_ = false;
      Deliver(sink, segment.ts_ns);
    }
  }
}

}  // namespace netlens::http2
