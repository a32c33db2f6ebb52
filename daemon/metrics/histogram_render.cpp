#include "metrics/histogram_render.h"

#include <cmath>
#include <limits>

namespace netlens {
namespace {

constexpr size_t kLastFiniteBucket = NL_HIST_BUCKETS - 2;

uint64_t KernelBucketBoundNanos(size_t bucket) { return uint64_t{1} << (bucket + NL_HIST_SHIFT); }

// The first finite bucket whose bound is >= nanos (the last finite one if none is).
size_t FirstBucketAtLeast(int64_t nanos) {
  for (size_t b = 0; b < kLastFiniteBucket; ++b) {
    if (KernelBucketBoundNanos(b) >= static_cast<uint64_t>(nanos)) return b;
  }
  return kLastFiniteBucket;
}

}  // namespace

double KernelBucketBoundSeconds(size_t bucket) {
  return std::ldexp(1.0, static_cast<int>(bucket + NL_HIST_SHIFT)) / 1e9;
}

ShownBuckets ShownBucketsOf(const LatencyBuckets& range) {
  return {FirstBucketAtLeast(range.min.count()), FirstBucketAtLeast(range.max.count())};
}

prometheus::ClientMetric::Histogram RenderHistogram(
    std::span<const uint64_t, NL_HIST_BUCKETS> buckets, uint64_t sum_ns,
    const ShownBuckets& shown) {
  prometheus::ClientMetric::Histogram histogram;
  uint64_t cumulative = 0;
  for (size_t b = 0; b < NL_HIST_BUCKETS; ++b) {
    cumulative += buckets[b];
    if (b >= shown.first && b <= shown.last)
      histogram.bucket.push_back({cumulative, KernelBucketBoundSeconds(b)});
  }
  histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
  histogram.sample_count = cumulative;
  histogram.sample_sum = static_cast<double>(sum_ns) / 1e9;
  return histogram;
}

}  // namespace netlens
