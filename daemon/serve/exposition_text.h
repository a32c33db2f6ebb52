// The text exposition of a scrape, built in one string: prometheus-cpp's TextSerializer writes
// through a 64 KiB buffer into a string reserved to the expected size, so a scrape of tens of
// MiB costs no ostringstream regrowth copies and no final copy out (docs/performance.md).
#pragma once

#include <prometheus/metric_family.h>

#include <cstddef>
#include <string>
#include <vector>

namespace netlens {

// The same bytes as TextSerializer().Serialize(families). expected_size: what to reserve, e.g.
// a little over the last scrape's size; the string grows past it if needed.
std::string SerializeExpositionText(const std::vector<prometheus::MetricFamily>& families,
                                    size_t expected_size);

}  // namespace netlens
