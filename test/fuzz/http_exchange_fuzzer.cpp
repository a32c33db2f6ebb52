// The HTTP/1.x parsing of captured traffic (daemon/http/): arbitrary bytes cut into segments of
// both directions, each with a random part left uncopied (the capture's prefix), and a close,
// fed to an ExchangeStitcher; every exchange's path then goes through a RouteTable.
// Invariants: bounded pending queue, path/host/route bounds, route budget, first <= last byte.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "http/exchange.h"
#include "http/routes.h"

using netlens::http::CloseEvent;
using netlens::http::Direction;
using netlens::http::Exchange;
using netlens::http::ExchangeStitcher;
using netlens::http::RouteTable;
using netlens::http::Segment;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Small limits, so the fuzzer reaches them.
  const netlens::http::StitcherLimits limits{.max_pending = 4,
                                             .parser = {.max_header_bytes = 512, .max_headers = 8}};
  netlens::http::Counters counters;
  ExchangeStitcher stitcher(counters, limits);
  RouteTable routes({"/api/users/{id}", "/static/{file...}"}, 8);
  std::vector<Exchange> out;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  uint64_t ts = 1;
  bool closed = false;
  // A segment: [control][copied length] then the copied bytes. control bit 0: direction;
  // bits 1-3: uncopied bytes (0, or 4^k); bits 4-6 == 7: a close instead; bit 7: a tail.
  while (input.size() >= 2) {
    const auto control = static_cast<uint8_t>(input[0]);
    const size_t copied = std::min<size_t>(static_cast<uint8_t>(input[1]) + 1, input.size() - 2);
    input.remove_prefix(2);
    if (((control >> 4) & 7) == 7) {
      stitcher.OnClose(CloseEvent{ts++}, out);
      closed = true;
      continue;
    }
    const unsigned shift = (control >> 1) & 7;
    const uint64_t uncopied = shift == 0 ? 0 : (uint64_t{1} << (2 * shift));
    // bit 7: the uncopied bytes end with a tail, the input's next bytes (up to 16).
    const size_t tail_size = (control & 0x80) && uncopied > 0
                                 ? std::min<size_t>({16, uncopied, input.size() - copied})
                                 : 0;
    const Segment segment{(control & 1) ? Direction::kWrite : Direction::kRead, ts++,
                          copied + uncopied, input.substr(0, copied),
                          input.substr(copied, tail_size)};
    input.remove_prefix(copied + tail_size);
    stitcher.OnSegment(segment, out);
    NETLENS_FUZZ_CHECK(stitcher.pending() <= limits.max_pending);
  }
  if (!closed) stitcher.OnClose(CloseEvent{ts++}, out);
  NETLENS_FUZZ_CHECK(stitcher.pending() == 0);
  for (const Exchange& exchange : out) {
    NETLENS_FUZZ_CHECK(exchange.role != netlens::http::Role::kUnknown);
    NETLENS_FUZZ_CHECK(exchange.path.size() <= netlens::http::kMaxPathBytes);
    NETLENS_FUZZ_CHECK(exchange.host.size() <= netlens::http::kMaxHostBytes);
    NETLENS_FUZZ_CHECK(exchange.response_first_byte_ns <= exchange.response_last_byte_ns);
    NETLENS_FUZZ_CHECK(exchange.response_last_byte_ns < ts);
    const std::string_view route = routes.Route(exchange.path);
    NETLENS_FUZZ_CHECK(route.size() <= 4 * netlens::http::kMaxPathBytes);
  }
  NETLENS_FUZZ_CHECK(routes.heuristic_routes() <= 8);
  return 0;
}
