// Kernel log2 latency histograms (netlens.h) as Prometheus histograms in seconds.
#pragma once

#include <prometheus/client_metric.h>

#include <cstdint>
#include <span>

#include "config/config.h"
#include "ebpf/lib/common.h"

namespace netlens {

// Upper bound of kernel bucket b (b < NL_HIST_BUCKETS - 1), in seconds: 2^(b + NL_HIST_SHIFT)
// ns. The last kernel bucket has no upper bound.
double KernelBucketBoundSeconds(size_t bucket);

// The buckets whose bounds are shown: from the first bound >= range.min to the first bound
// >= range.max (so the finite buckets cover [min, max]), limited to the finite kernel buckets.
// Lower buckets fold into the first one shown (le is cumulative), higher ones into +Inf.
struct ShownBuckets {
  size_t first;
  size_t last;
};
ShownBuckets ShownBucketsOf(const LatencyBuckets& range);

// buckets: the NL_HIST_BUCKETS kernel counts (not cumulative). _count and +Inf are the total
// of the buckets, so le is monotonic even when a scrape reads a sample half recorded.
prometheus::ClientMetric::Histogram RenderHistogram(
    std::span<const uint64_t, NL_HIST_BUCKETS> buckets, uint64_t sum_ns, const ShownBuckets& shown);

}  // namespace netlens
