// The HTTP/2 parsing of captured traffic (daemon/http2/): arbitrary bytes cut into segments of
// both directions, each with a random part left uncopied (the capture's prefix) and maybe its
// tail, and a close, fed to one http2::Stitcher (frames, HPACK in both directions, streams):
// the encoding of http_exchange_fuzzer.cpp. Invariants: at most Stitcher::kMaxStreams open;
// every exchange's request starts before its response ends; its path is kUnknownPath or a
// decoded :path (non-empty, or "" for CONNECT); no parser count ever decreases; the role,
// once known, never changes (and is every exchange's).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "http2/http2_stitcher.h"
#include "segment_input.h"

using netlens::http::Segment;
using netlens::http2::Counters;
using netlens::http2::Exchange;
using netlens::http2::Role;
using netlens::http2::Stitcher;

namespace {

// Every count of `now` at least the one of `before`.
bool NoneDecreased(const Counters& before, const Counters& now) {
  for (const auto& [event, count] : netlens::http2::kCounterEvents) {
    if (now.*count < before.*count) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Counters counters;
  Stitcher stitcher(counters);
  std::vector<Exchange> out;
  netlens::fuzz::SegmentInput input(data, size, true);
  bool closed = false;
  Role role = Role::kUnknown;
  Counters before = counters;
  const auto check_step = [&] {
    NETLENS_FUZZ_CHECK(stitcher.open_streams() <= Stitcher::kMaxStreams);
    NETLENS_FUZZ_CHECK(NoneDecreased(before, counters));
    before = counters;
    if (role != Role::kUnknown) NETLENS_FUZZ_CHECK(stitcher.role() == role);
    role = stitcher.role();
  };
  netlens::fuzz::ForEachStep(
      input, true,
      [&](const Segment& segment) {
        stitcher.OnSegment(segment, out);
        check_step();
      },
      [&](uint64_t ts) {
        stitcher.OnClose(ts, out);
        closed = true;
        check_step();
      });
  const uint64_t ts = input.next_ts();
  if (!closed) {
    stitcher.OnClose(ts, out);
    check_step();
  }
  NETLENS_FUZZ_CHECK(stitcher.open_streams() == 0);
  for (const Exchange& exchange : out) {
    NETLENS_FUZZ_CHECK(exchange.role != Role::kUnknown && exchange.role == role);
    if (exchange.request_start_ns != 0 && exchange.response_end_ns != 0) {
      NETLENS_FUZZ_CHECK(exchange.request_start_ns <= exchange.response_end_ns);
    }
    NETLENS_FUZZ_CHECK(exchange.response_end_ns <= ts);
    if (!exchange.known) NETLENS_FUZZ_CHECK(exchange.path == netlens::http2::kUnknownPath);
    if (exchange.path != netlens::http2::kUnknownPath) {
      NETLENS_FUZZ_CHECK(!exchange.path.empty() ||
                         exchange.method == netlens::http::Method::kConnect);
    }
  }
  return 0;
}
