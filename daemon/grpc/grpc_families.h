// The gRPC families from a grpc::Aggregator, and the HTTP/2 parser's self counts: pure
// (aggregator in, families out). netlens_rpc_{server,client}_duration_seconds: the request's
// HEADERS to the response's END_STREAM (or the reset), in the latency buckets; _count is the
// call count. Labels, in the manner of OpenTelemetry's RPC conventions: the process's,
// rpc_system ("grpc"), rpc_service, rpc_method, rpc_grpc_status_code ("unknown" when no status
// was seen), and on the client side server_address, server_port. Then
// netlens_http2_parser_events_total{event} (http2/http2_protocol.h's Counters).
#pragma once

#include <prometheus/metric_family.h>

#include <vector>

#include "config/config.h"
#include "grpc/grpc_aggregator.h"
#include "metrics/metric_source.h"

namespace netlens::grpc {

// The HTTP/2 parser's counts come with the gRPC families: one source, one switch (protocols).
void AppendGrpcFamilies(const Aggregator& aggregator, const http2::Counters& parser,
                        const LatencyBuckets& buckets, SourceOutput out);

}  // namespace netlens::grpc
