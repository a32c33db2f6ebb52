// Exact assertions on scraped metrics that print the relevant series and the daemon on failure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "exposition.h"
#include "scrape.h"
#include "sides.h"
#include "traffic_run.h"

namespace netlens::test {

enum class Match {
  kOne,  // exactly one series carries the labels; its value is checked
  kSum,  // the values of all series that carry the labels are added up
};

// REQUIRE(metric{labels} == expected).
void RequireValue(const Scrape& scrape, std::string_view metric, const Labels& labels,
                  double expected, Match match = Match::kOne);

// sent/received bytes and send/receive calls of the series with labels.
void RequireTraffic(const Scrape& scrape, const Labels& labels, const TrafficCounts& expected,
                    Match match = Match::kOne);

// connections opened and closed; labels must include the direction.
void RequireConnections(const Scrape& scrape, const Labels& labels, uint64_t opened,
                        uint64_t closed, Match match = Match::kOne);

// No series of the comm at all.
void RequireNoSeries(const Scrape& scrape, const std::string& comm);

// nl-traffic made exactly the calls that were planned (no short transfers).
void RequireHelperCalls(const TrafficOptions& options, const TrafficReport& report);

// The cumulative count of histogram's bucket whose upper bound (le) is 2^log2_ns nanoseconds,
// of the one series with labels.
double BucketAt(const Scrape& scrape, const std::string& histogram, const Labels& labels,
                int log2_ns);

// The histogram of labels holds exactly lower.size() samples, sample i lying somewhere in
// [lower[i], upper[i]] seconds (bounds the test measured around the latency it made): each le
// bucket from 2^20 to 2^30 ns holds at least the samples whose upper bound is below le and at
// most those whose lower bound is, and _sum lies between the sums of the bounds. Exact where
// the bounds share a bucket; a busy machine that oversleeps widens them, never breaks them.
void RequireSamplesWithin(const Scrape& scrape, const std::string& histogram, const Labels& labels,
                          const std::vector<double>& lower, const std::vector<double>& upper);

// The scraped lines of metric that share the comm of labels (all of metric if no comm).
std::string RelevantLines(const Scrape& scrape, std::string_view metric, const Labels& labels);

}  // namespace netlens::test
