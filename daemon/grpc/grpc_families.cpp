#include "grpc/grpc_families.h"

#include <string>

#include "metrics/histogram_render.h"
#include "metrics/metric_builder.h"
#include "metrics/metric_names.h"
#include "metrics/request_families.h"

namespace netlens::grpc {
namespace {

namespace names = metric_name;

// rpc_grpc_status_code is "unknown" where no status was seen (http2::Exchange::grpc_status).
std::vector<prometheus::ClientMetric::Label> LabelsOf(const SeriesKey& key) {
  RequestLabels labels(key.folded, key.process);
  labels.Constant("rpc_system", "grpc");
  labels.Add("rpc_service", key.service);
  labels.Add("rpc_method", key.method);
  labels.Add("rpc_grpc_status_code", key.status >= 0 ? std::to_string(key.status) : "unknown");
  labels.Server(key.role == Role::kClient, key.server_address, key.server_port);
  return labels.Take();
}

const RoleFamilySpec<Series> kDurationFamily[] = {
    {names::kRpcServerDurationSeconds, names::kRpcClientDurationSeconds,
     "Duration of gRPC calls: the call with the request's HEADERS to the call with the "
     "response's END_STREAM or the stream's reset (daemon/http2/http2_stitcher.h)",
     prometheus::MetricType::Histogram, FillDuration<Series>}};

}  // namespace

void AppendGrpcFamilies(const Aggregator& aggregator, const http2::Counters& parser,
                        const LatencyBuckets& buckets, SourceOutput out) {
  AppendRoleFamilies(aggregator.series(), Role::kServer, Role::kClient,
                     std::span<const RoleFamilySpec<Series>>(kDurationFamily), LabelsOf,
                     ShownBucketsOf(buckets), aggregator.folded_keys(), out.families, out.budgets);
  MetricBuilder events(names::kHttp2ParserEventsTotal,
                       "What the HTTP/2 parsing met, by event (daemon/http2/http2_protocol.h)",
                       prometheus::MetricType::Counter);
  for (const auto& [event, count] : http2::kCounterEvents)
    events.Add({"event"}, {event}, static_cast<double>(parser.*count));
  out.families.push_back(events.Take());
}

}  // namespace netlens::grpc
