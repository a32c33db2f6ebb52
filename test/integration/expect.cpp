#include "expect.h"

#include <catch2/catch.hpp>
#include <cmath>

#include "metric_names.h"
#include "netlens_process.h"

namespace netlens::test {
namespace {

constexpr size_t kMaxLines = 80;

std::string Lines(const std::vector<const Sample*>& samples) {
  std::string text;
  for (size_t i = 0; i < samples.size() && i < kMaxLines; ++i) text += Format(*samples[i]) + "\n";
  if (samples.size() > kMaxLines) text += "[" + std::to_string(samples.size()) + " in all]\n";
  return text.empty() ? "(none)\n" : text;
}

Labels CommOf(const Labels& labels) {
  auto it = labels.find("comm");
  return it == labels.end() ? Labels{} : Labels{{"comm", it->second}};
}

}  // namespace

std::string RelevantLines(const Scrape& scrape, std::string_view metric, const Labels& labels) {
  return Lines(Select(scrape.samples, metric, CommOf(labels)));
}

void RequireValue(const Scrape& scrape, std::string_view metric, const Labels& labels,
                  double expected, Match match) {
  std::string series = FormatSeries(metric, labels);
  INFO("series: " << series << (match == Match::kSum ? " (sum)" : " (exactly one)"));
  INFO("scraped from " << scrape.source << ", lines of the same comm:\n"
                       << RelevantLines(scrape, metric, labels));
  // A count off by a few is most often an event the kernel did not run netlens for.
  INFO("runs the kernel skipped, closes made good at socket free, folds without counters:\n"
       << Lines(Select(scrape.samples, metric::kProgramMissedRunsTotal, {}))
       << Lines(Select(scrape.samples, metric::kKernelLateClosesTotal, {}))
       << Lines(Select(scrape.samples, metric::kKernelUnreadFoldsTotal, {})));
  std::vector<const Sample*> selected = Select(scrape.samples, metric, labels);
  double value = Sum(scrape.samples, metric, labels);
  if (match == Match::kOne) REQUIRE(selected.size() == 1);
  REQUIRE(value == expected);
}

void RequireTraffic(const Scrape& scrape, const Labels& labels, const TrafficCounts& expected,
                    Match match) {
  RequireValue(scrape, metric::kSentBytes, labels, static_cast<double>(expected.sent_bytes), match);
  RequireValue(scrape, metric::kReceivedBytes, labels, static_cast<double>(expected.received_bytes),
               match);
  if (!PerEventAccounting()) {
    // Kernel accounting counts no calls: the families are not there at all.
    REQUIRE(Select(scrape.samples, metric::kSendCalls, {}).empty());
    REQUIRE(Select(scrape.samples, metric::kReceiveCalls, {}).empty());
    return;
  }
  RequireValue(scrape, metric::kSendCalls, labels, static_cast<double>(expected.send_calls), match);
  RequireValue(scrape, metric::kReceiveCalls, labels, static_cast<double>(expected.receive_calls),
               match);
}

void RequireConnections(const Scrape& scrape, const Labels& labels, uint64_t opened,
                        uint64_t closed, Match match) {
  RequireValue(scrape, metric::kConnectionsOpened, labels, static_cast<double>(opened), match);
  RequireValue(scrape, metric::kConnectionsClosed, labels, static_cast<double>(closed), match);
}

void RequireNoSeries(const Scrape& scrape, const std::string& comm) {
  std::vector<const Sample*> found;
  for (const Sample& sample : scrape.samples) {
    if (HasLabels(sample, {{"comm", comm}})) found.push_back(&sample);
  }
  INFO("scraped from " << scrape.source << ", series of comm " << comm << ":\n" << Lines(found));
  REQUIRE(found.empty());
}

void RequireHelperCalls(const TrafficOptions& options, const TrafficReport& report) {
  TrafficCounts client = ExpectedClientCounts(options);
  TrafficCounts server = ExpectedServerCounts(options);
  INFO("nl-traffic reports the calls it really made; a mismatch is a helper problem");
  REQUIRE(report.client_send_calls == client.send_calls);
  REQUIRE(report.client_recv_calls == client.receive_calls);
  REQUIRE(report.server_send_calls == server.send_calls);
  REQUIRE(report.server_recv_calls == server.receive_calls);
  REQUIRE(report.connections.size() == static_cast<size_t>(options.connections));
}

double BucketAt(const Scrape& scrape, const std::string& histogram, const Labels& labels,
                int log2_ns) {
  const double le = std::ldexp(1.0, log2_ns) * 1e-9;
  double found = -1;
  for (const Sample* sample : Select(scrape.samples, histogram + "_bucket", labels)) {
    const double bound = std::stod(sample->labels.at("le"));
    if (std::fabs(bound - le) <= le * 1e-9) {
      REQUIRE(found < 0);  // one series only
      found = sample->value;
    }
  }
  INFO(RelevantLines(scrape, histogram + "_bucket", labels));
  REQUIRE(found >= 0);
  return found;
}

void RequireSamplesWithin(const Scrape& scrape, const std::string& histogram, const Labels& labels,
                          const std::vector<double>& lower, const std::vector<double>& upper) {
  REQUIRE(lower.size() == upper.size());
  RequireValue(scrape, histogram + "_count", labels, static_cast<double>(lower.size()));
  for (int log2_ns = 20; log2_ns <= 30; ++log2_ns) {
    const double le = std::ldexp(1.0, log2_ns) * 1e-9;
    double surely_below = 0, maybe_below = 0;
    for (size_t i = 0; i < lower.size(); ++i) {
      surely_below += upper[i] < le;
      maybe_below += lower[i] < le;
    }
    INFO(histogram << " le = 2^" << log2_ns << " ns: between " << surely_below << " and "
                   << maybe_below << " samples");
    const double count = BucketAt(scrape, histogram, labels, log2_ns);
    REQUIRE(count >= surely_below);
    REQUIRE(count <= maybe_below);
  }
  double lowest = 0, highest = 0;
  for (size_t i = 0; i < lower.size(); ++i) {
    lowest += lower[i];
    highest += upper[i];
  }
  const double sum = ValueOfOne(scrape.samples, histogram + "_sum", labels);
  INFO(histogram << "_sum " << sum << " s, measured bounds " << lowest << " .. " << highest
                 << " s");
  REQUIRE(sum >= lowest);
  REQUIRE(sum <= highest);
}

}  // namespace netlens::test
