#include "http/http_families.h"

#include <limits>
#include <string>

#include "metrics/histogram_render.h"
#include "metrics/metric_builder.h"
#include "metrics/metric_names.h"

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
  std::vector<prometheus::ClientMetric::Label> labels;
  const auto add = [&](std::string name, std::string value) {
    labels.push_back({std::move(name), key.folded ? "other" : std::move(value)});
  };
  for (const auto& [name, value] : key.process) add(name, value);
  if (key.folded) {
    // The "other" series has no process labels of its own: name the usual ones.
    labels.push_back({"comm", "other"});
  }
  add("http_request_method", std::string(MethodName(key.method)));
  add("http_response_status_code", std::to_string(key.status));
  add("http_route", key.route);
  if (key.role == Role::kClient) {
    add("server_address", key.server_address);
    add("server_port", std::to_string(key.server_port));
  }
  return labels;
}

// One histogram family per role and measure.
struct HistogramFamily {
  std::string_view server_name;
  std::string_view client_name;
  const char* help;
  prometheus::ClientMetric::Histogram (*render)(const HttpSeries&, const ShownBuckets&);
};

const std::array<HistogramFamily, 4> kHistogramFamilies = {{
    {names::kHttpServerRequestDurationSeconds, names::kHttpClientRequestDurationSeconds,
     "Duration of HTTP requests: first byte of the request to last byte of the response "
     "(daemon/http/exchange.h)",
     [](const HttpSeries& s, const ShownBuckets& shown) {
       return RenderHistogram(s.duration.buckets, s.duration.sum_ns, shown);
     }},
    {names::kHttpServerRequestBodySizeBytes, names::kHttpClientRequestBodySizeBytes,
     "Size of HTTP request bodies, without chunk framing",
     [](const HttpSeries& s, const ShownBuckets&) { return RenderSizes(s.request_body); }},
    {names::kHttpServerResponseBodySizeBytes, names::kHttpClientResponseBodySizeBytes,
     "Size of HTTP response bodies, without chunk framing",
     [](const HttpSeries& s, const ShownBuckets&) { return RenderSizes(s.response_body); }},
    {names::kHttpServerTimeToFirstByteSeconds, names::kHttpClientTimeToFirstByteSeconds,
     "First byte of the HTTP request to first byte of the final response",
     [](const HttpSeries& s, const ShownBuckets& shown) {
       return RenderHistogram(s.time_to_first_byte.buckets, s.time_to_first_byte.sum_ns, shown);
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
  const ShownBuckets shown = ShownBucketsOf(buckets);
  for (const HistogramFamily& spec : kHistogramFamilies) {
    for (const Role role : {Role::kServer, Role::kClient}) {
      prometheus::MetricFamily family;
      family.name = std::string(role == Role::kServer ? spec.server_name : spec.client_name);
      family.help = spec.help;
      family.type = prometheus::MetricType::Histogram;
      for (const auto& [key, series] : aggregator.series()) {
        if (key.role != role) continue;
        prometheus::ClientMetric metric;
        metric.label = LabelsOf(key);
        metric.histogram = spec.render(series, shown);
        family.metric.push_back(std::move(metric));
      }
      if (family.metric.empty()) continue;
      budgets.push_back({family.name, aggregator.folded_keys()});
      families.push_back(std::move(family));
    }
  }
  AppendCounters(aggregator, families);
}

}  // namespace netlens::http
