// HTTP requests on every kernel (issue 16): nl-traffic --http makes a number of requests known in
// advance (connections x rounds of "GET /nl" answered 200), and the daemon must count exactly
// those at both ends, with the capture hooks the kernel has: auto takes sock:sock_*_length on
// Linux >= 6.3 and the syscall exit tracepoints before (the kernel matrix runs this on Debian
// 12's 6.1); NETLENS_TEST_HTTP_HOOKS=syscalls forces the syscall hooks here (ctest runs the
// HTTP tests so too). Self-contained, no nginx and no Python: the kernel matrix's initramfs has
// only netlens, nl-traffic and the tests.
#include <bpf/btf.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "exposition.h"
#include "netlens_process.h"
#include "traffic_run.h"

namespace netlens::test {
namespace {

using std::chrono::milliseconds;

// What auto must choose here: the sock length tracepoints where the kernel's BTF has them.
std::string ExpectedHooks() {
  if (const char* forced = std::getenv("NETLENS_TEST_HTTP_HOOKS"); forced && *forced) return forced;
  btf* kernel = btf__load_vmlinux_btf();
  REQUIRE(kernel != nullptr);
  const bool sock_length =
      btf__find_by_name_kind(kernel, "btf_trace_sock_send_length", BTF_KIND_TYPEDEF) >= 0;
  btf__free(kernel);
  return sock_length ? "sock_length" : "syscalls";
}

TEST_CASE("http hooks: nl-traffic's HTTP requests are counted exactly at both ends",
          "[http-hooks]") {
  const char* forced = std::getenv("NETLENS_TEST_HTTP_HOOKS");
  const std::string hooks = forced && *forced ? forced : "auto";
  TrafficOptions traffic{.comm = UniqueComm(),
                         .connections = 4,
                         .rounds = 9,
                         .request = 120,
                         .response = 300,
                         .http = true};
  traffic.server_comm = UniqueComm();
  // nl-traffic's comm at exec is its file name (watched by the kernel from then on); the daemon's
  // scan then judges the comms it sets.
  NetlensProcess netlens("process", {},
                         "http_requests:\n  capture_hooks: " + hooks +
                             "\n  processes:\n    include:\n      - comm: nl-traffic\n"
                             "      - comm: " +
                             traffic.comm + "\n      - comm: " + traffic.server_comm + "\n");
  const TrafficReport report = RunTraffic(traffic);
  const double requests = traffic.connections * traffic.rounds;
  const Labels server = {{"comm", traffic.server_comm},
                         {"http_request_method", "GET"},
                         {"http_route", "/nl"},
                         {"http_response_status_code", "200"}};
  Labels client = server;
  client["comm"] = traffic.comm;
  client["server_port"] = std::to_string(report.port);
  Scrape scrape;
  for (int i = 0; i < 100; ++i) {  // the drain runs every 100 ms
    scrape = netlens.ScrapeMetrics();
    if (Sum(scrape.samples, "http_server_request_duration_seconds_count", server) >= requests &&
        Sum(scrape.samples, "http_client_request_duration_seconds_count", client) >= requests)
      break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  INFO(netlens.Report());
  // What the capture saw, when the counts are off.
  std::string seen;
  for (const char* family :
       {"netlens_http_capture_segments_total", "netlens_http_connections_classified_total",
        "netlens_http_capture_lost_total", "netlens_http_capture_processes_watched",
        "netlens_http_capture_closes_total", "netlens_http_parse_errors_total"}) {
    for (const Sample* sample : Select(scrape.samples, family, {})) seen += Format(*sample) + "\n";
  }
  INFO(seen);
  INFO("nl-traffic: client pid " << report.client_pid << ", server pid " << report.server_pid);
  CHECK(ValueOfOne(scrape.samples, "netlens_http_capture_hooks_info", {}) == 1);
  CHECK(Select(scrape.samples, "netlens_http_capture_hooks_info", {{"hooks", ExpectedHooks()}})
            .size() == 1);
  CHECK(Sum(scrape.samples, "http_server_request_duration_seconds_count", server) == requests);
  CHECK(Sum(scrape.samples, "http_client_request_duration_seconds_count", client) == requests);
  // Every request and response of either end, and nothing else.
  CHECK(Sum(scrape.samples, "http_server_request_duration_seconds_count",
            {{"comm", traffic.server_comm}}) == requests);
  CHECK(Sum(scrape.samples, "http_client_request_duration_seconds_count",
            {{"comm", traffic.comm}}) == requests);
  // The response body: 300 bytes less the status line and the Content-Length header.
  const double body =
      traffic.response - std::string("HTTP/1.1 200 OK\r\nContent-Length: 260\r\n\r\n").size();
  REQUIRE(body == 260);
  CHECK(Sum(scrape.samples, "http_server_response_body_size_bytes_sum", server) == requests * body);
  CHECK(Sum(scrape.samples, "http_client_response_body_size_bytes_sum", client) == requests * body);
  CHECK(Sum(scrape.samples, "netlens_http_capture_lost_total", {}) == 0);
  CHECK(Sum(scrape.samples, "netlens_http_parse_errors_total", {}) == 0);
  CHECK(Sum(scrape.samples, "netlens_http_unmatched_responses_total", {}) == 0);
}

}  // namespace
}  // namespace netlens::test
