// gRPC request metrics (issue 19) from Debian's python3-grpcio: a server and a client
// (test/helpers/grpc_peer.py) make a known list of unary, streaming and failing calls, four of
// them concurrent, over one HTTP/2 connection; netlens counts each call per method and grpc
// status exactly, on the client's side and on the server's, its durations within what the
// client measured (and above the server's 0.2 s sleep for Slow). A connection netlens joins
// mid-stream is marked and its calls counted, their method where HPACK spelled it out since,
// else under {unknown}, never guessed. The service map counts each call once on its edge.
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>

#include "exposition.h"
#include "netlens_process.h"
#include "subprocess.h"

namespace netlens::test {
namespace {

using std::chrono::milliseconds;

constexpr const char* kPython = "/usr/bin/python3";  // Debian's, with python3-grpcio
constexpr const char* kConfig =
    "http_requests:\n"
    "  protocols: [http, http2]\n"
    "  processes:\n"
    "    include:\n"
    "      - comm: python3\n";

// (rpc_method, rpc_grpc_status_code) -> calls
using Calls = std::map<std::pair<std::string, std::string>, double>;

// The small plan of grpc_peer.py, as its client's JSON reports it (checked below too).
const Calls kSmallPlan = {
    {{"Unary", "0"}, 3},  {{"Fail", "5"}, 2}, {{"Fail", "3"}, 1},
    {{"Stream", "0"}, 1}, {{"Slow", "0"}, 4},
};

// The server: "ready PORT" once listening; it stops at its standard input's end.
struct GrpcServer {
  Child child{{kPython, NL_GRPC_PEER_SCRIPT, "server", "--port", "0"},
              SpawnOptions{.stdin_pipe = true}};
  uint16_t port = 0;
  GrpcServer() {
    const std::optional<std::string> line = child.ReadLine(milliseconds(20000));
    REQUIRE(line);
    REQUIRE(line->starts_with("ready "));
    port = static_cast<uint16_t>(std::stoi(line->substr(6)));
  }
  ~GrpcServer() { child.CloseStdin(); }
};

// The client's JSON: per (method, code) the calls, and the sum of its own durations.
struct ClientReport {
  Calls calls;
  std::map<std::string, double> seconds;  // per method
};

ClientReport ParseReport(const std::string& json) {
  ClientReport report;
  size_t pos = 0;
  while ((pos = json.find("\"method\": \"/netlens.test.Echo/", pos)) != std::string::npos) {
    pos += 30;
    const std::string method = json.substr(pos, json.find('"', pos) - pos);
    const size_t code_at = json.find("\"code\": ", pos) + 8;
    const std::string code = json.substr(code_at, json.find(',', code_at) - code_at);
    const size_t seconds_at = json.find("\"seconds\": ", pos) + 11;
    report.calls[{method, code}] += 1;
    report.seconds[method] += std::stod(json.substr(seconds_at));
  }
  return report;
}

Calls CallsOf(const Scrape& scrape, const std::string& family) {
  Calls calls;
  for (const Sample* sample : Select(scrape.samples, family + "_count", {{"comm", "python3"}})) {
    calls[{sample->labels.at("rpc_method"), sample->labels.at("rpc_grpc_status_code")}] +=
        sample->value;
  }
  return calls;
}

std::string Describe(const Calls& calls) {
  std::ostringstream out;
  for (const auto& [key, value] : calls)
    out << key.first << " " << key.second << ": " << value << "\n";
  return out.str();
}

double Total(const Calls& calls) {
  double total = 0;
  for (const auto& [key, value] : calls) total += value;
  return total;
}

// Scrapes until both sides counted `total` calls (or 10 s).
Scrape ScrapeUntil(NetlensProcess& netlens, double total) {
  Scrape scrape;
  for (int i = 0; i < 100; ++i) {
    scrape = netlens.ScrapeMetrics();
    if (Total(CallsOf(scrape, "netlens_rpc_client_duration_seconds")) >= total &&
        Total(CallsOf(scrape, "netlens_rpc_server_duration_seconds")) >= total)
      break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  return scrape;
}

double Event(const Scrape& scrape, const std::string& event) {
  return Sum(scrape.samples, "netlens_http2_parser_events_total", {{"event", event}});
}

TEST_CASE("grpc requests: each call counted per method and status, both sides, exact", "[grpc]") {
  // netlens first: the kernel watches python3 from its exec on, and sees the preface.
  NetlensProcess netlens("process", {}, std::string(kConfig) + "service_map:\n  enabled: true\n");
  const GrpcServer server;
  const Output output = Child({kPython, NL_GRPC_PEER_SCRIPT, "client", "--port",
                               std::to_string(server.port), "--plan", "small"},
                              SpawnOptions{})
                            .Communicate(milliseconds(60000));
  INFO(output.err);
  REQUIRE(output.status.Success());  // every call ended as the plan says
  const ClientReport report = ParseReport(output.out);
  REQUIRE(Describe(report.calls) == Describe(kSmallPlan));

  const Scrape scrape = ScrapeUntil(netlens, Total(kSmallPlan));
  INFO(netlens.Report());
  const std::string client = "netlens_rpc_client_duration_seconds";
  const std::string server_family = "netlens_rpc_server_duration_seconds";
  CHECK(Describe(CallsOf(scrape, client)) == Describe(kSmallPlan));
  CHECK(Describe(CallsOf(scrape, server_family)) == Describe(kSmallPlan));
  // One service, and the client's series name its server.
  CHECK(Sum(scrape.samples, client + "_count",
            {{"rpc_system", "grpc"},
             {"rpc_service", "netlens.test.Echo"},
             {"server_address", "127.0.0.1"},
             {"server_port", std::to_string(server.port)}}) == Total(kSmallPlan));
  CHECK(Sum(scrape.samples, server_family + "_count", {{"rpc_service", "netlens.test.Echo"}}) ==
        Total(kSmallPlan));
  // Durations: each call's from netlens is within the client's own measure of it, and a Slow
  // call lasts at least the server's 0.2 s sleep.
  for (const std::string& family : {client, server_family}) {
    for (const auto& [method, seconds] : report.seconds) {
      INFO(family << " " << method);
      CHECK(Sum(scrape.samples, family + "_sum", {{"rpc_method", method}}) <= seconds);
    }
    CHECK(Sum(scrape.samples, family + "_sum", {{"rpc_method", "Slow"}}) >= 4 * 0.2);
  }
  // The four concurrent Slow calls shared the one connection: two connections in all (the
  // client's and the server's end), each from its preface; nothing lost or left open.
  CHECK(Sum(scrape.samples, "netlens_http_connections_classified_total", {{"verdict", "http2"}}) ==
        2);
  for (const char* event :
       {"joined_midstream", "unknown_fields", "framing_lost", "header_blocks_lost",
        "streams_dropped", "unanswered", "protocol_errors", "streams_over_limit"}) {
    INFO(event);
    CHECK(Event(scrape, event) == 0);
  }
  // gRPC calls are not counted again as HTTP requests.
  CHECK(Select(scrape.samples, "http_server_request_duration_seconds_count", {}).empty());
  // The service map counts each call once on its edge (by the server end), the three Fail
  // calls as errors.
  Scrape edges = scrape;
  for (int i = 0; i < 100; ++i) {
    if (Sum(edges.samples, "netlens_service_map_requests_total", {{"protocol", "grpc"}}) >=
        Total(kSmallPlan))
      break;
    std::this_thread::sleep_for(milliseconds(100));
    edges = netlens.ScrapeMetrics();
  }
  CHECK(Sum(edges.samples, "netlens_service_map_requests_total", {{"protocol", "grpc"}}) ==
        Total(kSmallPlan));
  CHECK(Sum(edges.samples, "netlens_service_map_request_errors_total", {{"protocol", "grpc"}}) ==
        3);
}

TEST_CASE("grpc requests: a connection joined mid-stream is marked, its calls never guessed",
          "[grpc]") {
  const GrpcServer server;
  Child client({kPython, NL_GRPC_PEER_SCRIPT, "client", "--port", std::to_string(server.port),
                "--plan", "small", "--pause"},
               SpawnOptions{.stdin_pipe = true});
  // One call made (HPACK tables filled) before netlens starts.
  REQUIRE(client.ReadLine(milliseconds(20000)) == std::optional<std::string>("connected"));
  NetlensProcess netlens("process", {}, kConfig);
  for (int i = 0; i < 100; ++i) {  // the daemon's scan finds both processes
    if (Sum(netlens.ScrapeMetrics().samples, "netlens_http_capture_processes_watched", {}) >= 2)
      break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  client.WriteStdin("go\n");
  const std::optional<std::string> json = client.ReadLine(milliseconds(60000));
  REQUIRE(json);
  const ClientReport report = ParseReport(*json);
  REQUIRE(Describe(report.calls) == Describe(kSmallPlan));

  const Scrape scrape = ScrapeUntil(netlens, Total(kSmallPlan));
  INFO(netlens.Report());
  CHECK(Event(scrape, "joined_midstream") == 2);  // the client's end and the server's
  for (const std::string family :
       {"netlens_rpc_client_duration_seconds", "netlens_rpc_server_duration_seconds"}) {
    INFO(family);
    const Calls calls = CallsOf(scrape, family);
    CHECK(Total(calls) == Total(kSmallPlan));  // every call counted
    // Each method and status is the one the call had, or unknown: never another.
    double unknown_methods = 0;
    for (const auto& [key, count] : calls) {
      INFO(key.first << " " << key.second);
      if (key.first == "{unknown}") {
        unknown_methods += count;
        continue;
      }
      bool possible = false;
      for (const auto& [planned, n] : kSmallPlan)
        possible |=
            planned.first == key.first && (key.second == "unknown" || key.second == planned.second);
      CHECK(possible);
    }
    // The fields netlens could not know are counted, one per call.
    CHECK(unknown_methods <= Event(scrape, "unknown_fields"));
  }
  CHECK(Event(scrape, "framing_lost") == 0);
  CHECK(Event(scrape, "protocol_errors") == 0);
}

}  // namespace
}  // namespace netlens::test
