// The MySQL parsing of captured traffic (daemon/mysql/): arbitrary bytes cut into segments of
// both directions, each with a random part left uncopied (the capture's prefix), and a close,
// fed to a mysql::Stitcher (the encoding of http_exchange_fuzzer.cpp). Invariants: every
// exchange has a role and a bounded operation label, starts before it ends and ends before the
// next segment; nothing is pending after the close.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "mysql/mysql_stitcher.h"
#include "segment_input.h"

using netlens::http::Segment;
using netlens::mysql::Exchange;
using netlens::mysql::Stitcher;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  netlens::mysql::Counters counters;
  Stitcher stitcher(counters);
  std::vector<Exchange> out;
  netlens::fuzz::SegmentInput input(data, size, false);
  bool closed = false;
  netlens::fuzz::ForEachStep(
      input, true, [&](const Segment& segment) { stitcher.OnSegment(segment, out); },
      [&](uint64_t ts) {
        stitcher.OnClose(ts, out);
        closed = true;
      });
  uint64_t ts = input.next_ts();
  if (!closed) stitcher.OnClose(ts++, out);
  for (const Exchange& exchange : out) {
    NETLENS_FUZZ_CHECK(exchange.role != netlens::mysql::Role::kUnknown);
    NETLENS_FUZZ_CHECK(!exchange.operation.empty() && exchange.operation.size() <= 16);
    NETLENS_FUZZ_CHECK(exchange.start_ns <= exchange.end_ns);
    NETLENS_FUZZ_CHECK(exchange.end_ns < ts);
  }
  return 0;
}
