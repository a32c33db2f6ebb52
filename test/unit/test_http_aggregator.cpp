// HTTP exchanges -> series -> families: the golden exposition of a fixed set of exchanges, the
// series budget, and Host -> server address/port.
#include <prometheus/text_serializer.h>

#include <catch2/catch.hpp>

#include "golden_file.h"
#include "http/http_aggregator.h"
#include "http/http_families.h"
#include "http_test_support.h"

namespace netlens::http {
namespace {

HttpProcess Process(std::string pid, std::string comm, std::string service) {
  return {{{"pid", std::move(pid)}, {"comm", comm}, {"service", service}}, service};
}

Exchange Made(Role role, Method method, std::string path, std::string host, uint16_t status,
              uint64_t request_body, uint64_t response_body, uint64_t ttfb_ns,
              uint64_t duration_ns) {
  return Exchange{.role = role,
                  .method = method,
                  .path = std::move(path),
                  .host = std::move(host),
                  .status = status,
                  .request_body_bytes = request_body,
                  .response_body_bytes = response_body,
                  .request_start_ns = 1'000'000,
                  .response_first_byte_ns = 1'000'000 + ttfb_ns,
                  .response_last_byte_ns = 1'000'000 + duration_ns};
}

TEST_CASE("SplitHostPort", "[http]") {
  using P = std::pair<std::string_view, uint16_t>;
  CHECK(SplitHostPort("example.com:8080") == P{"example.com", 8080});
  CHECK(SplitHostPort("example.com") == P{"example.com", 0});
  CHECK(SplitHostPort("[::1]:9000") == P{"::1", 9000});
  CHECK(SplitHostPort("[::1]") == P{"::1", 0});
  CHECK(SplitHostPort("::1") == P{"::1", 0});
  CHECK(SplitHostPort("h:99999") == P{"h", 0});
  CHECK(SplitHostPort("") == P{"", 0});
}

TEST_CASE("the HTTP families of fixed exchanges render to the golden text", "[golden][http]") {
  HttpRequestsConfig config;
  config.routes = {{"web", {"/api/users/{id}"}}};
  config.route_budget = 2;
  HttpAggregator aggregator(config, 100);
  const HttpProcess nginx = Process("4100002", "nginx", "web");
  const HttpProcess curl = Process("4100001", "curl", "curl");
  // nginx: two requests to one route (4 us and 3 ms), a POST, and 3 paths over a budget of 2.
  aggregator.Add(
      nginx, Made(Role::kServer, Method::kGet, "/api/users/1", "h", 200, 0, 28, 2000, 4000), "", 0);
  aggregator.Add(
      nginx,
      Made(Role::kServer, Method::kGet, "/api/users/2", "h", 200, 0, 300, 1'000'000, 3'000'000), "",
      0);
  aggregator.Add(nginx,
                 Made(Role::kServer, Method::kPost, "/upload", "h", 201, 2000, 15, 50'000, 60'000),
                 "", 0);
  aggregator.Add(nginx,
                 Made(Role::kServer, Method::kGet, "/index.txt", "h", 304, 0, 0, 10'000, 10'000),
                 "", 0);
  aggregator.Add(nginx, Made(Role::kServer, Method::kOther, "/dav", "h", 405, 0, 0, 10'000, 10'000),
                 "", 0);
  // curl: Host with a port, and one without (the socket's port).
  aggregator.Add(curl,
                 Made(Role::kClient, Method::kGet, "/index.txt", "127.0.0.1:18091", 200, 0, 28,
                      200'000, 250'000),
                 "127.0.0.1", 18091);
  aggregator.Add(curl, Made(Role::kClient, Method::kHead, "/x/123", "", 404, 0, 0, 90'000, 90'000),
                 "10.0.0.1", 80);
  ++aggregator.counters().parse_errors[static_cast<size_t>(ParseError::kTruncated)];
  aggregator.counters().unmatched_responses = 2;
  std::vector<prometheus::MetricFamily> families;
  std::vector<SeriesBudgetUse> budgets;
  AppendHttpFamilies(aggregator,
                     LatencyBuckets{std::chrono::microseconds(1), std::chrono::seconds(1)},
                     families, budgets);
  CHECK(budgets.size() == 8);
  const std::string text = prometheus::TextSerializer().Serialize(families);

  netlens::testing::CheckGolden(text, "http.prom");
}

TEST_CASE("the series budget folds new keys into one other series, counts exact", "[http]") {
  HttpAggregator aggregator(HttpRequestsConfig{}, 3);
  const HttpProcess p = Process("1", "srv", "srv");
  for (int i = 0; i < 10; ++i) {
    aggregator.Add(
        p, Made(Role::kServer, Method::kGet, "/", "", static_cast<uint16_t>(200 + i), 0, 0, 1, 1),
        "", 0);
  }
  CHECK(aggregator.series().size() == 3);  // 2 keys and "other": the budget counts it
  CHECK(aggregator.folded_keys() == 8);
  uint64_t total = 0;
  for (const auto& [key, series] : aggregator.series()) {
    for (const uint64_t n : series.duration.buckets) total += n;
  }
  CHECK(total == 10);
}

TEST_CASE("series of processes gone expire process_ttl later, once shown", "[http]") {
  HttpAggregator aggregator({}, 100);
  const HttpProcess gone = Process("7", "curl", "curl");
  const HttpProcess alive = Process("8", "curl", "curl");
  const uint64_t ttl = 2'000'000'000, t0 = 10'000'000'000;
  const Exchange exchange = Made(Role::kClient, Method::kGet, "/", "h:80", 200, 0, 1, 10, 20);
  aggregator.Add(gone, exchange, "", 0, t0);
  aggregator.Add(alive, exchange, "", 0, t0);
  const std::set<std::vector<std::pair<std::string, std::string>>> live = {alive.labels};
  // Found gone at t0 + 1 s; not yet shown by a scrape: kept however long.
  CHECK(aggregator.ExpireOrphans(live, ttl, t0 + 1'000'000'000) == 0);
  CHECK(aggregator.ExpireOrphans(live, ttl, t0 + 9'000'000'000) == 0);
  aggregator.MarkShown();
  // Shown: it goes process_ttl after it was found gone; the live one stays.
  CHECK(aggregator.ExpireOrphans(live, ttl, t0 + 2'900'000'000) == 0);
  CHECK(aggregator.ExpireOrphans(live, ttl, t0 + 3'000'000'000) == 1);
  REQUIRE(aggregator.series().size() == 1);
  CHECK(aggregator.series().begin()->first.process == alive.labels);
  CHECK(aggregator.expired() == 1);
  // An exchange after the process was found gone (drained late) restarts the wait and hides
  // the series until the next scrape.
  aggregator.Add(gone, exchange, "", 0, t0 + 4'000'000'000);
  CHECK(aggregator.ExpireOrphans(live, ttl, t0 + 4'000'000'000) == 0);
  aggregator.MarkShown();
  aggregator.Add(gone, exchange, "", 0, t0 + 5'000'000'000);
  CHECK(aggregator.ExpireOrphans(live, ttl, t0 + 8'000'000'000) == 0);  // not shown since
  aggregator.MarkShown();
  CHECK(aggregator.ExpireOrphans(live, ttl, t0 + 6'900'000'000) == 0);
  CHECK(aggregator.ExpireOrphans(live, ttl, t0 + 8'000'000'000) == 1);
  // A process with the same labels coming back keeps its series.
  aggregator.Add(gone, exchange, "", 0, t0);
  aggregator.MarkShown();
  CHECK(aggregator.ExpireOrphans({gone.labels, alive.labels}, ttl, t0 + 99'000'000'000) == 0);
  CHECK(aggregator.series().size() == 2);
}

TEST_CASE("fixtures through stitcher, routes and aggregator: request counts add up", "[http]") {
  HttpAggregator aggregator(HttpRequestsConfig{}, 100);
  const HttpProcess p = Process("7", "nginx", "nginx");
  std::vector<Exchange> out;
  for (int round = 0; round < 3; ++round) {
    ExchangeStitcher stitcher(aggregator.counters());
    const std::string request = testing::Fixture("nginx_pipelined.request");
    const std::string response = testing::Fixture("nginx_pipelined.response");
    stitcher.OnSegment({Direction::kRead, 10, request.size(), request}, out);
    stitcher.OnSegment({Direction::kWrite, 20, response.size(), response}, out);
    stitcher.OnClose({30}, out);
  }
  for (const Exchange& e : out) aggregator.Add(p, e, "", 0);
  REQUIRE(out.size() == 9);
  REQUIRE(aggregator.series().size() == 3);
  for (const auto& [key, series] : aggregator.series()) {
    CHECK(series.duration.buckets[0] == 3);  // 10 ns each: the first bucket
    CHECK(series.duration.sum_ns == 30);
  }
}

}  // namespace
}  // namespace netlens::http
