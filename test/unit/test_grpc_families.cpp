// The gRPC metrics (daemon/grpc/): SplitGrpcPath's service and method for every shape of path,
// the aggregator's series budget (max_series includes "other"; keys beyond fold into it and are
// counted), and the exposition AppendGrpcFamilies renders from the exchanges of the recorded
// python3-grpcio session (test/unit/http2_fixtures/grpc_session.txt through http2::Stitcher,
// client side): the call counts per method and status are the session's plan, asserted here
// and in the golden file test/unit/golden/grpc.prom.
#include <prometheus/text_serializer.h>

#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "golden_file.h"
#include "grpc/grpc_aggregator.h"
#include "grpc/grpc_families.h"
#include "http2/http2_stitcher.h"
#include "recorded_session.h"

namespace netlens::grpc {
namespace {

using Split = std::pair<std::string_view, std::string_view>;

TEST_CASE("grpc: SplitGrpcPath gives service and method, else the path as the method", "[grpc]") {
  CHECK(SplitGrpcPath("/a.B/C") == Split{"a.B", "C"});
  CHECK(SplitGrpcPath("/netlens.test.Echo/Unary") == Split{"netlens.test.Echo", "Unary"});
  CHECK(SplitGrpcPath(http2::kUnknownPath) == Split{"", "{unknown}"});
  CHECK(SplitGrpcPath("/x") == Split{"", "x"});
  CHECK(SplitGrpcPath("/a/b/c") == Split{"", "a/b/c"});
  CHECK(SplitGrpcPath("") == Split{"", ""});
  CHECK(SplitGrpcPath("/a/") == Split{"", "a/"});
}

http2::Exchange Call(std::string path, int grpc_status, uint64_t start_ns, uint64_t end_ns) {
  http2::Exchange e;
  e.role = Role::kClient;
  e.stream_id = 1;
  e.method = http::Method::kPost;
  e.path = std::move(path);
  e.grpc = true;
  e.status = 200;
  e.grpc_status = grpc_status;
  e.request_start_ns = start_ns;
  e.response_first_byte_ns = start_ns;
  e.response_end_ns = end_ns;
  return e;
}

uint64_t CountOf(const http::DurationHistogram& histogram) {
  uint64_t count = 0;
  for (const uint64_t n : histogram.buckets) count += n;
  return count;
}

TEST_CASE("grpc: beyond max_series - 1 keys, calls fold into one other series, counted", "[grpc]") {
  Aggregator aggregator(3);  // two keys and "other"
  const http::HttpProcess process{{{"comm", "app"}}, "app"};
  aggregator.Add(process, Call("/a.B/C", 0, 1'000, 3'000), "10.0.0.1", 50051);
  aggregator.Add(process, Call("/a.B/D", 0, 1'000, 4'000), "10.0.0.1", 50051);
  aggregator.Add(process, Call("/a.B/E", 0, 1'000, 5'000), "10.0.0.1", 50051);  // folded
  aggregator.Add(process, Call("/a.B/E", 2, 1'000, 6'000), "10.0.0.1", 50051);  // folded
  aggregator.Add(process, Call("/a.B/C", 0, 1'000, 7'000), "10.0.0.1", 50051);  // its own
  REQUIRE(aggregator.series().size() == 3);
  CHECK(aggregator.folded_keys() == 2);
  std::map<std::string, uint64_t> counts;
  for (const auto& [key, series] : aggregator.series()) {
    const std::string name = key.folded ? "other" : key.service + "/" + key.method;
    counts[name] = CountOf(series.duration);
    if (key.folded) {
      CHECK(key.role == Role::kClient);
      CHECK(key.service.empty());
      CHECK(key.method.empty());
      CHECK(key.server_address.empty());
      CHECK(series.duration.sum_ns == 4'000 + 5'000);
    } else {
      CHECK(key.server_address == "10.0.0.1");
      CHECK(key.server_port == 50051);
    }
  }
  CHECK(counts == std::map<std::string, uint64_t>{{"a.B/C", 2}, {"a.B/D", 1}, {"other", 2}});
}

// The recorded session's exchanges, client side, call i at ts (i + 1) * 1000 (as
// test_http2_stitcher.cpp feeds it).
std::vector<http2::Exchange> SessionExchanges(http2::Counters& counters) {
  const std::vector<testing::RecordedCall> calls =
      testing::RecordedSession(std::string(NETLENS_HTTP2_FIXTURES_DIR) + "/grpc_session.txt");
  http2::Stitcher stitcher(counters);
  std::vector<http2::Exchange> out;
  for (size_t i = 0; i < calls.size(); ++i) {
    const std::string_view bytes = calls[i].bytes;
    stitcher.OnSegment(http::Segment{calls[i].direction, (i + 1) * 1000, bytes.size(), bytes, {}},
                       out);
  }
  stitcher.OnClose(calls.size() * 1000 + 1000, out);
  return out;
}

std::string LabelOf(const prometheus::ClientMetric& metric, const std::string& name) {
  for (const auto& label : metric.label) {
    if (label.name == name) return label.value;
  }
  return "(none)";
}

TEST_CASE("grpc: the recorded session's calls render to the golden text", "[golden][grpc]") {
  http2::Counters counters;
  const std::vector<http2::Exchange> exchanges = SessionExchanges(counters);
  REQUIRE(exchanges.size() == 12);
  Aggregator aggregator(100);
  const http::HttpProcess process{{{"comm", "python3"}}, "python3"};
  for (const http2::Exchange& e : exchanges) {
    REQUIRE(e.grpc);
    aggregator.Add(process, e, "127.0.0.1", 50051);
  }
  std::vector<prometheus::MetricFamily> families;
  std::vector<SeriesBudgetUse> budgets;
  AppendGrpcFamilies(aggregator, counters,
                     LatencyBuckets{std::chrono::microseconds(1), std::chrono::seconds(1)},
                     SourceOutput{families, budgets});
  // The plan's calls per method and grpc-status: the _count of each label set's histogram.
  const std::map<std::string, uint64_t> expected = {
      {"Unary 0", 4}, {"Fail 5", 2}, {"Fail 3", 1}, {"Stream 0", 1}, {"Slow 0", 4}};
  std::map<std::string, uint64_t> counts;
  bool client_family = false;
  for (const prometheus::MetricFamily& family : families) {
    if (family.name == "netlens_rpc_server_duration_seconds") CHECK(family.metric.empty());
    if (family.name != "netlens_rpc_client_duration_seconds") continue;
    client_family = true;
    for (const prometheus::ClientMetric& metric : family.metric) {
      CHECK(LabelOf(metric, "comm") == "python3");
      CHECK(LabelOf(metric, "rpc_system") == "grpc");
      CHECK(LabelOf(metric, "rpc_service") == "netlens.test.Echo");
      CHECK(LabelOf(metric, "server_address") == "127.0.0.1");
      CHECK(LabelOf(metric, "server_port") == "50051");
      counts[LabelOf(metric, "rpc_method") + " " + LabelOf(metric, "rpc_grpc_status_code")] +=
          metric.histogram.sample_count;
    }
  }
  CHECK(client_family);
  CHECK(counts == expected);
  // The aggregator holds the same counts.
  std::map<std::string, uint64_t> series_counts;
  for (const auto& [key, series] : aggregator.series()) {
    CHECK_FALSE(key.folded);
    series_counts[key.method + " " + std::to_string(key.status)] += CountOf(series.duration);
  }
  CHECK(series_counts == expected);
  CHECK(aggregator.folded_keys() == 0);
  netlens::testing::CheckGolden(prometheus::TextSerializer().Serialize(families), "grpc.prom");
}

}  // namespace
}  // namespace netlens::grpc
