// The HTTP request families from an HttpAggregator: pure (aggregator in, families out), so the
// golden test renders them without sockets. Histograms: durations and time to first byte in
// seconds (latency_buckets bounds), body sizes in bytes (kBodySizeBounds); _count of the
// duration histogram is the request count. Labels: the process's, then http_request_method,
// http_response_status_code, http_route, and on the client side server_address, server_port.
#pragma once

#include <prometheus/metric_family.h>

#include <vector>

#include "config/config.h"
#include "http/http_aggregator.h"
#include "metrics/metric_source.h"

namespace netlens::http {

// Appends the request families (the ones with series) and the self counters; the request
// families are held to the series budget and declared in budgets.
void AppendHttpFamilies(const HttpAggregator& aggregator, const LatencyBuckets& buckets,
                        std::vector<prometheus::MetricFamily>& families,
                        std::vector<SeriesBudgetUse>& budgets);

}  // namespace netlens::http
