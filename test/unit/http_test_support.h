// What the HTTP parsing tests share: fixtures from disk and a connection driven by segments.
#pragma once

#include <algorithm>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "http/exchange.h"

namespace netlens::http::testing {

// test/unit/http_fixtures/NAME: bytes recorded from real curl, nginx and python traffic.
inline std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(NETLENS_HTTP_FIXTURES_DIR) + "/" + name, std::ios::binary);
  if (!in) throw std::runtime_error("no fixture " + name);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// One segment as a test writes it: `copied` < 0 means all of `bytes` were copied; otherwise only
// the first `copied` were (the capture's prefix), length staying bytes.size().
struct Call {
  Direction direction;
  uint64_t ts_ns;
  std::string bytes;
  long copied = -1;
  bool tail =
      false;  // with `copied`: the call's last bytes come as Segment::tail, as the capture's
};

struct Outcome {
  std::vector<Exchange> exchanges;
  Counters counters;
};

// Feeds the calls in order, then closes the connection at close_ns (0: left open).
inline Outcome Run(const std::vector<Call>& calls, uint64_t close_ns = 0,
                   StitcherLimits limits = {}) {
  Outcome outcome;
  ExchangeStitcher stitcher(outcome.counters, limits);
  for (const Call& call : calls) {
    const std::string_view all = call.bytes;
    const size_t copied = call.copied < 0 ? all.size() : static_cast<size_t>(call.copied);
    const size_t tail =
        call.tail && copied < all.size() ? std::min<size_t>(16, all.size() - copied) : 0;
    stitcher.OnSegment(Segment{call.direction, call.ts_ns, all.size(), all.substr(0, copied),
                               all.substr(all.size() - tail)},
                       outcome.exchanges);
  }
  if (close_ns != 0) stitcher.OnClose(CloseEvent{close_ns}, outcome.exchanges);
  return outcome;
}

// `bytes` cut at the given offsets (sorted, inside (0, size)) into calls of one direction.
inline std::vector<Call> Cut(Direction direction, uint64_t ts_ns, const std::string& bytes,
                             const std::vector<size_t>& cuts) {
  std::vector<Call> calls;
  size_t from = 0;
  for (const size_t cut : cuts) {
    calls.push_back({direction, ts_ns, bytes.substr(from, cut - from)});
    from = cut;
  }
  calls.push_back({direction, ts_ns, bytes.substr(from)});
  return calls;
}

inline uint64_t TotalErrors(const Counters& counters) {
  uint64_t total = 0;
  for (const uint64_t n : counters.parse_errors) total += n;
  return total;
}

}  // namespace netlens::http::testing
