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
#include "segment_input.h"

using netlens::http::CloseEvent;
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
  netlens::fuzz::SegmentInput input(data, size, true);
  bool closed = false;
  // Segments after a close too: they must be ignored.
  netlens::fuzz::ForEachStep(
      input, false,
      [&](const Segment& segment) {
        stitcher.OnSegment(segment, out);
        NETLENS_FUZZ_CHECK(stitcher.pending() <= limits.max_pending);
      },
      [&](uint64_t ts) {
        stitcher.OnClose(CloseEvent{ts}, out);
        closed = true;
      });
  uint64_t ts = input.next_ts();
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
