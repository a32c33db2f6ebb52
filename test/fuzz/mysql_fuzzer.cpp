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

using netlens::http::Direction;
using netlens::http::Segment;
using netlens::mysql::Exchange;
using netlens::mysql::Stitcher;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  netlens::mysql::Counters counters;
  Stitcher stitcher(counters);
  std::vector<Exchange> out;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  uint64_t ts = 1;
  bool closed = false;
  // A segment: [control][copied length - 1] then the copied bytes. control bit 0: direction;
  // bits 1-3: uncopied bytes (0, or 4^k); bits 4-6 == 7: a close instead.
  while (input.size() >= 2 && !closed) {
    const auto control = static_cast<uint8_t>(input[0]);
    const size_t copied = std::min<size_t>(static_cast<uint8_t>(input[1]) + 1, input.size() - 2);
    input.remove_prefix(2);
    if (((control >> 4) & 7) == 7) {
      stitcher.OnClose(ts++, out);
      closed = true;
      continue;
    }
    const unsigned shift = (control >> 1) & 7;
    const uint64_t uncopied = shift == 0 ? 0 : (uint64_t{1} << (2 * shift));
    const Segment segment{(control & 1) ? Direction::kWrite : Direction::kRead,
                          ts++,
                          copied + uncopied,
                          input.substr(0, copied),
                          {}};
    input.remove_prefix(copied);
    stitcher.OnSegment(segment, out);
  }
  if (!closed) stitcher.OnClose(ts++, out);
  for (const Exchange& exchange : out) {
    NETLENS_FUZZ_CHECK(exchange.role != netlens::mysql::Role::kUnknown);
    NETLENS_FUZZ_CHECK(!exchange.operation.empty() && exchange.operation.size() <= 16);
    NETLENS_FUZZ_CHECK(exchange.start_ns <= exchange.end_ns);
    NETLENS_FUZZ_CHECK(exchange.end_ns < ts);
  }
  return 0;
}
