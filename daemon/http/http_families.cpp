#include "http/http_families.h"

#include <limits>
#include <string>

#include "metrics/histogram_render.h"
#include "metrics/metric_builder.h"
#include "metrics/metric_names.h"
#include "metrics/request_families.h"

namespace netlens::http {
namespace {

namespace names = metric_name;

prometheus::ClientMetric::Histogram RenderSizes(const SizeHistogram& sizes) {
  prometheus::ClientMetric::Histogram histogram;
  uint64_t cumulative = 0;
  for (size_t b = 0; b < kBodySizeBounds.size(); ++b) {
    cumulative += sizes.buckets[b];
    histogram.bucket.push_back({cumulative, static_cast<double>(kBodySizeBounds[b])});
  }
  cumulative += sizes.buckets.back();
  histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
  histogram.sample_count = cumulative;
  histogram.sample_sum = static_cast<double>(sizes.sum);
  return histogram;
}

std::vector<prometheus::ClientMetric::Label> LabelsOf(const HttpSeriesKey& key) {
  return RequestLabels(key.folded, key.process)
      .Add("http_request_method", std::string(MethodName(key.method)))
      .Add("http_response_status_code", std::to_string(key.status))
      .Add("http_route", key.route)
      .Server(key.role == Role::kClient, key.server_address, key.server_port)
      .Take();
}

// One histogram family per role and measure.
using Metric = prometheus::ClientMetric;
const std::array<RoleFamilySpec<HttpSeries>, 4> kHistogramFamilies = {{
    {names::kHttpServerRequestDurationSeconds, names::kHttpClientRequestDurationSeconds,
     "Duration of HTTP requests: first byte of the request to last byte of the response "
     "(daemon/http/exchange.h)",
     prometheus::MetricType::Histogram,
     [](const HttpSeries& s, const ShownBuckets& shown, Metric& metric) {
       metric.histogram = RenderHistogram(s.duration.buckets, s.duration.sum_ns, shown);
     }},
    {names::kHttpServerRequestBodySizeBytes, names::kHttpClientRequestBodySizeBytes,
     "Size of HTTP request bodies, without chunk framing", prometheus::MetricType::Histogram,
     [](const HttpSeries& s, const ShownBuckets&, Metric& metric) {
       metric.histogram = RenderSizes(s.request_body);
     }},
    {names::kHttpServerResponseBodySizeBytes, names::kHttpClientResponseBodySizeBytes,
     "Size of HTTP response bodies, without chunk framing", prometheus::MetricType::Histogram,
     [](const HttpSeries& s, const ShownBuckets&, Metric& metric) {
       metric.histogram = RenderSizes(s.response_body);
     }},
    {names::kHttpServerTimeToFirstByteSeconds, names::kHttpClientTimeToFirstByteSeconds,
     "First byte of the HTTP request to first byte of the final response",
     prometheus::MetricType::Histogram,
     [](const HttpSeries& s, const ShownBuckets& shown, Metric& metric) {
       metric.histogram =
           RenderHistogram(s.time_to_first_byte.buckets, s.time_to_first_byte.sum_ns, shown);
     }},
}};

void AppendCounters(const HttpAggregator& aggregator,
                    std::vector<prometheus::MetricFamily>& families) {
  const Counters& counters = aggregator.counters();
  MetricBuilder errors(names::kHttpParseErrorsTotal,
                       "HTTP messages that could not be parsed, by reason (http_counters.h)",
                       prometheus::MetricType::Counter);
  for (size_t i = 0; i < kParseErrorCount; ++i) {
    errors.Add({"reason"}, {std::string(ParseErrorName(static_cast<ParseError>(i)))},
               static_cast<double>(counters.parse_errors[i]));
  }
  families.push_back(errors.Take());
  const auto single = [&](std::string_view name, std::string help, uint64_t value) {
    MetricBuilder builder(name, std::move(help), prometheus::MetricType::Counter);
    builder.Add({}, {}, static_cast<double>(value));
    families.push_back(builder.Take());
  };
  single(names::kHttpUnmatchedResponsesTotal,
         "HTTP responses with no request seen for them (connection watched mid-stream)",
         counters.unmatched_responses);
  single(names::kHttpUnansweredRequestsTotal,
         "HTTP requests still awaiting their response when the connection closed",
         counters.unanswered_requests);
  single(names::kHttpPendingOverflowTotal,
         "HTTP requests not tracked: their connection had limits.pending_requests pending",
         counters.pending_overflow);
  single(names::kHttpChunkFramingLostTotal,
         "Chunked HTTP bodies whose chunk-size lines were not copied by the capture: ended at "
         "the call that ends with the last chunk, their size counted with the chunk framing",
         counters.chunk_framing_lost);
  MetricBuilder overflow(names::kHttpRouteOverflowTotal,
                         "HTTP requests given the route /{overflow}: their service had "
                         "route_budget routes",
                         prometheus::MetricType::Counter);
  for (const auto& [service, count] : aggregator.RouteOverflows()) {
    overflow.Add({"service"}, {service}, static_cast<double>(count));
  }
  families.push_back(overflow.Take());
}

}  // namespace

void AppendHttpFamilies(const HttpAggregator& aggregator, const LatencyBuckets& buckets,
                        std::vector<prometheus::MetricFamily>& families,
                        std::vector<SeriesBudgetUse>& budgets) {
  AppendRoleFamilies(aggregator.series(), Role::kServer, Role::kClient,
                     std::span<const RoleFamilySpec<HttpSeries>>(kHistogramFamilies), LabelsOf,
                     ShownBucketsOf(buckets), aggregator.folded_keys(), families, budgets);
  AppendCounters(aggregator, families);
}

}  // namespace netlens::http
