// The encoding of captured calls that the parsers' fuzz targets share (http_exchange, mysql,
// http2): the input is a sequence of steps, each [control][copied length - 1] then the copied
// bytes. control bit 0: direction (1: the process wrote); bits 1-3: bytes of the call not
// copied (0, or 4^k); bits 4-6 == 7: a close instead of a call; bit 7 (with tails): the
// uncopied bytes end with a tail, the input's next bytes (up to 16), as the capture's is.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/segment.h"

namespace netlens::fuzz {

class SegmentInput {
 public:
  SegmentInput(const uint8_t* data, size_t size, bool tails)
      : input_(reinterpret_cast<const char*>(data), size), tails_(tails) {}

  // The next step into `segment` (its ts increasing from 1), or a close (*close set); false
  // when the input is used up.
  bool Next(http::Segment& segment, bool& close) {
    if (input_.size() < 2) return false;
    const auto control = static_cast<uint8_t>(input_[0]);
    const size_t copied = std::min<size_t>(static_cast<uint8_t>(input_[1]) + 1, input_.size() - 2);
    input_.remove_prefix(2);
    close = ((control >> 4) & 7) == 7;
    if (close) {
      segment.ts_ns = ts_++;
      return true;
    }
    const unsigned shift = (control >> 1) & 7;
    const uint64_t uncopied = shift == 0 ? 0 : (uint64_t{1} << (2 * shift));
    const size_t tail = tails_ && (control & 0x80) && uncopied > 0
                            ? std::min<size_t>({16, uncopied, input_.size() - copied})
                            : 0;
    segment =
        http::Segment{(control & 1) ? http::Direction::kWrite : http::Direction::kRead, ts_++,
                      copied + uncopied, input_.substr(0, copied), input_.substr(copied, tail)};
    input_.remove_prefix(copied + tail);
    return true;
  }
  uint64_t next_ts() const { return ts_; }

 private:
  std::string_view input_;
  bool tails_;
  uint64_t ts_ = 1;
};

// Hands each step to on_segment(segment) or on_close(ts); after the first close, stops when
// stop_at_close, else goes on (the segments after a close must then be ignored).
template <typename OnSegment, typename OnClose>
void ForEachStep(SegmentInput& input, bool stop_at_close, OnSegment&& on_segment,
                 OnClose&& on_close) {
  http::Segment segment{};
  bool close = false;
  while (input.Next(segment, close)) {
    if (!close) {
      on_segment(segment);
      continue;
    }
    on_close(segment.ts_ns);
    if (stop_at_close) return;
  }
}

}  // namespace netlens::fuzz
