// Tests of the latency histogram rendering: bucket edges, cumulative counts, _sum/_count,
// empty histograms and the configured range.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <vector>

#include "metrics/histogram_render.h"

namespace netlens {
namespace {

using namespace std::chrono_literals;
using Buckets = std::array<uint64_t, NL_HIST_BUCKETS>;

prometheus::ClientMetric::Histogram Render(const Buckets& buckets, uint64_t sum_ns,
                                           const LatencyBuckets& range = {}) {
  return RenderHistogram(buckets, sum_ns, ShownBucketsOf(range));
}

std::vector<double> Bounds(const prometheus::ClientMetric::Histogram& h) {
  std::vector<double> out;
  for (const auto& b : h.bucket) out.push_back(b.upper_bound);
  return out;
}

std::vector<uint64_t> Counts(const prometheus::ClientMetric::Histogram& h) {
  std::vector<uint64_t> out;
  for (const auto& b : h.bucket) out.push_back(b.cumulative_count);
  return out;
}

TEST_CASE("kernel bucket b is bounded by 2^(b + NL_HIST_SHIFT) ns", "[histogram]") {
  CHECK(KernelBucketBoundSeconds(0) == 1024e-9);
  CHECK(KernelBucketBoundSeconds(16) == std::ldexp(1.0, 26) / 1e9);  // 67.108864 ms
  CHECK(KernelBucketBoundSeconds(30) == std::ldexp(1.0, 40) / 1e9);  // 1099.5 s
}

TEST_CASE("default range: 1.024 us to 68.7 s, then +Inf", "[histogram]") {
  const auto h = Render(Buckets{}, 0);
  const std::vector<double> bounds = Bounds(h);
  REQUIRE(bounds.size() == 27 + 1);  // 2^10 .. 2^36 ns, +Inf
  for (size_t i = 0; i < 27; ++i) CHECK(bounds[i] == std::ldexp(1.0, 10 + i) / 1e9);
  CHECK(std::isinf(bounds.back()));
}

TEST_CASE("empty histogram: every bucket, _count and _sum are 0", "[histogram]") {
  const auto h = Render(Buckets{}, 0);
  for (uint64_t count : Counts(h)) CHECK(count == 0);
  CHECK(h.sample_count == 0);
  CHECK(h.sample_sum == 0);
}

TEST_CASE("cumulative counts, exact _sum and _count", "[histogram]") {
  Buckets buckets{};
  buckets[0] = 2;   // < 1.024 us
  buckets[1] = 3;   // [1.024 us, 2.048 us)
  buckets[16] = 5;  // [33.6 ms, 67.1 ms): 50 ms samples
  const uint64_t sum_ns = 2 * 500 + 3 * 1500 + 5 * 50'000'000ULL;
  const auto h = Render(buckets, sum_ns);
  const std::vector<uint64_t> counts = Counts(h);
  CHECK(counts[0] == 2);
  CHECK(counts[1] == 5);
  for (size_t i = 2; i < 16; ++i) CHECK(counts[i] == 5);
  for (size_t i = 16; i < counts.size(); ++i) CHECK(counts[i] == 10);
  CHECK(h.sample_count == 10);
  CHECK(h.sample_sum == Approx(0.250005500).epsilon(1e-12));
}

TEST_CASE("values above the last bound count only in +Inf", "[histogram]") {
  Buckets buckets{};
  buckets[27] = 1;                   // [68.7 s, 137 s)
  buckets[NL_HIST_BUCKETS - 1] = 4;  // >= 2^40 ns: the kernel's open bucket
  const auto h = Render(buckets, 0);
  const std::vector<uint64_t> counts = Counts(h);
  for (size_t i = 0; i + 1 < counts.size(); ++i) CHECK(counts[i] == 0);
  CHECK(counts.back() == 5);
  CHECK(h.sample_count == 5);
}

TEST_CASE("a configured range folds lower buckets into the first bound, higher into +Inf",
          "[histogram]") {
  Buckets buckets{};
  buckets[0] = 1;    // < 1.024 us
  buckets[10] = 2;   // [524 us, 1.05 ms)
  buckets[11] = 4;   // [1.05 ms, 2.1 ms)
  buckets[20] = 8;   // [537 ms, 1.07 s)
  buckets[21] = 16;  // [1.07 s, 2.1 s)
  // min 1 ms: first bound 2^20 ns (1.048576 ms); max 1 s: last bound 2^30 ns (1.073741824 s).
  const auto h = Render(buckets, 0, {1ms, 1s});
  const std::vector<double> bounds = Bounds(h);
  REQUIRE(bounds.size() == 11 + 1);
  CHECK(bounds.front() == std::ldexp(1.0, 20) / 1e9);
  CHECK(bounds[10] == std::ldexp(1.0, 30) / 1e9);
  const std::vector<uint64_t> counts = Counts(h);
  CHECK(counts.front() == 1 + 2);  // everything at or below 1.048576 ms
  CHECK(counts[1] == 1 + 2 + 4);
  CHECK(counts[10] == 1 + 2 + 4 + 8);
  CHECK(counts.back() == 31);  // +Inf: also the 1.07 s .. 2.1 s samples
  CHECK(h.sample_count == 31);
}

TEST_CASE("range bounds between two edges round up to the next edge", "[histogram]") {
  // 3 us -> 4.096 us; 100 ms -> 134.2 ms.
  const ShownBuckets shown = ShownBucketsOf({3us, 100ms});
  CHECK(shown.first == 2);
  CHECK(shown.last == 17);
  // An exact edge is kept as it is.
  const ShownBuckets exact = ShownBucketsOf({1024ns, std::chrono::nanoseconds(1ULL << 20)});
  CHECK(exact.first == 0);
  CHECK(exact.last == 10);
  // The largest max the config allows is the last finite kernel bucket.
  CHECK(ShownBucketsOf({1ns, std::chrono::nanoseconds(1ULL << 40)}).last == NL_HIST_BUCKETS - 2);
}

}  // namespace
}  // namespace netlens
