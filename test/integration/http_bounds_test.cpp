// The HTTP request metrics (daemon/http/http_source.h) held to their bounds, against the real
// daemon, the real kernel and Debian's nginx, every count known in advance: the route budget
// (10,000 distinct paths, budget 50), a non-HTTP target (classified other, nothing captured),
// pipelining (3 requests in one write, both sides), the series budget ("other" carries the
// rest), the connection table (limits.connections) and SIGHUP (routes added; http_requests
// turned off).
//
// Every watched process runs under a comm of its own: it is exec'd through a symlink of that
// name, so the kernel watches it from its exec (http/process_watch.h) and nothing else on the
// host, another test's nginx included, is in any count.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "expect.h"
#include "metric_names.h"
#include "netlens_process.h"
#include "ports.h"
#include "subprocess.h"
#include "temp_dir.h"
#include "traffic_run.h"

#ifndef NL_HTTP_LOAD_SCRIPT
#error "NL_HTTP_LOAD_SCRIPT must be defined by the build (test/helpers/http_load.py)"
#endif

namespace netlens::test {
namespace {

using std::chrono::milliseconds;

// HttpSource's and the capture's self metrics (daemon/http/http_source.cpp, capture_source.cpp).
constexpr std::string_view kProcessesWatched = "netlens_http_capture_processes_watched";
constexpr std::string_view kParserConnections = "netlens_http_parser_connections";
constexpr std::string_view kConnectionsDropped = "netlens_http_parser_connections_dropped_total";
constexpr std::string_view kSegments = "netlens_http_capture_segments_total";
constexpr std::string_view kCloses = "netlens_http_capture_closes_total";
constexpr std::string_view kLost = "netlens_http_capture_lost_total";
constexpr std::string_view kClassified = "netlens_http_connections_classified_total";

std::string CountOf(std::string_view histogram) { return std::string(histogram) + "_count"; }
std::string SumOf(std::string_view histogram) { return std::string(histogram) + "_sum"; }

// dir/name -> target: exec'd through it, a process's comm is name.
std::string Linked(const TempDir& dir, const std::string& target, const std::string& name) {
  const std::string link = dir.PathOf(name);
  std::filesystem::create_symlink(target, link);
  return link;
}

// Debian's nginx, one worker, under its own comm: 200 "ok\n" (3 bytes) for every path but
// /m/..., which is 404. Keep-alive without a request limit. No access log: a test's numbers
// are the helper's.
class Nginx {
 public:
  explicit Nginx(const TempDir& dir) : comm_(UniqueComm()), port_(FreeLoopbackPort()) {
    std::ostringstream conf;
    conf << "daemon off;\nmaster_process on;\nworker_processes 1;\nuser root;\n"
         << "pid " << dir.PathOf("nginx.pid") << ";\nerror_log " << dir.PathOf("error.log")
         << ";\nevents { worker_connections 64; }\nhttp {\n"
         << "  access_log off;\n  server_tokens off;\n  default_type text/plain;\n"
         << "  keepalive_requests 1000000;\n"
         << "  server {\n    listen 127.0.0.1:" << port_ << ";\n"
         << "    location / { return 200 \"ok\\n\"; }\n"
         << "    location /m/ { return 404; }\n  }\n}\n";
    const std::string path = dir.Write("nginx.conf", conf.str());
    child_ = std::make_unique<Child>(
        std::vector<std::string>{Linked(dir, "/usr/sbin/nginx", comm_), "-p", dir.path(), "-c",
                                 path, "-e", dir.PathOf("error.log")},
        SpawnOptions{.output_file = dir.PathOf("nginx.out")});
    // nginx writes its pid file after it has bound its listening socket.
    for (int i = 0; i < 200 && ReadFile(dir.PathOf("nginx.pid")).empty(); ++i)
      std::this_thread::sleep_for(milliseconds(50));
    INFO("nginx: " << ReadFile(dir.PathOf("error.log")) << ReadFile(dir.PathOf("nginx.out")));
    REQUIRE_FALSE(ReadFile(dir.PathOf("nginx.pid")).empty());
  }
  // SIGQUIT: the master stops its worker (a killed master would leave it serving).
  ~Nginx() {
    child_->Signal(SIGQUIT);
    if (!child_->WaitFor(milliseconds(10000))) child_->Kill();
  }
  Nginx(const Nginx&) = delete;
  Nginx& operator=(const Nginx&) = delete;

  const std::string& comm() const { return comm_; }
  uint16_t port() const { return port_; }
  std::string PortLabel() const { return std::to_string(port_); }

 private:
  std::string comm_;
  uint16_t port_;
  std::unique_ptr<Child> child_;
};

// What test/helpers/http_load.py reported.
struct Load {
  uint64_t requests = 0;
  uint64_t writes = 0;
  std::string statuses;  // "200:3,404:1"
};

std::string ReportValue(const std::string& out, const std::string& key) {
  const std::string lines = "\n" + out;
  const size_t at = lines.find("\n" + key + "=");
  if (at == std::string::npos) return "";
  const size_t start = at + key.size() + 2;
  return lines.substr(start, lines.find('\n', start) - start);
}

// Runs the helper (python3 itself, or a symlink to it that gives the client a comm) to the end.
Load RunLoad(const std::string& python, uint16_t port, const std::vector<std::string>& specs) {
  std::vector<std::string> argv = {python, NL_HTTP_LOAD_SCRIPT, std::to_string(port)};
  argv.insert(argv.end(), specs.begin(), specs.end());
  const Output output = Child(argv, SpawnOptions{}).Communicate(milliseconds(120000));
  INFO("http_load.py: " << output.out << output.err);
  REQUIRE(output.status.Success());
  REQUIRE(output.out.find("\ndone") != std::string::npos);
  return {std::stoull(ReportValue(output.out, "requests")),
          std::stoull(ReportValue(output.out, "writes")), ReportValue(output.out, "statuses")};
}

// The http_requests section watching the given comms, and more of the section.
std::string HttpRequests(const std::vector<std::string>& comms, const std::string& more = "") {
  std::string section = "http_requests:\n  processes:\n    include:\n";
  for (const std::string& comm : comms) section += "      - comm: " + comm + "\n";
  return section + more;
}

// Scrapes until done(scrape) or 10 s have passed; the last scrape.
Scrape ScrapeUntil(const NetlensProcess& netlens, const std::function<bool(const Scrape&)>& done) {
  Scrape scrape = netlens.ScrapeMetrics();
  for (int i = 0; i < 100 && !done(scrape); ++i) {
    std::this_thread::sleep_for(milliseconds(100));
    scrape = netlens.ScrapeMetrics();
  }
  return scrape;
}

// http_route -> request count of the histogram's series with labels.
std::map<std::string, double> CountsByRoute(const Scrape& scrape, std::string_view histogram,
                                            const Labels& labels) {
  std::map<std::string, double> routes;
  for (const Sample* sample : Select(scrape.samples, CountOf(histogram), labels))
    routes[sample->labels.at("http_route")] += sample->value;
  return routes;
}

// Nothing was lost or unparsed: the counts below are complete, not a lucky subset.
void RequireNothingLost(const Scrape& scrape) {
  RequireValue(scrape, kLost, {}, 0, Match::kSum);
  RequireValue(scrape, metric::kHttpParseErrorsTotal, {}, 0, Match::kSum);
  RequireValue(scrape, metric::kHttpUnmatchedResponsesTotal, {}, 0);
  RequireValue(scrape, metric::kHttpPendingOverflowTotal, {}, 0);
  RequireValue(scrape, kConnectionsDropped, {}, 0, Match::kSum);
}

double ReloadsOk(const NetlensProcess& netlens) {
  return Sum(netlens.ScrapeMetrics().samples, metric::kConfigReloadsTotal, {{"result", "success"}});
}

// Rewrites netlens' config with `tail` after the generated part, sends SIGHUP and waits until
// the reload was applied (the reloads counter reaches `reloads`).
void Reload(const NetlensProcess& netlens, const std::string& tail, double reloads) {
  std::ofstream(netlens.config_path(), std::ios::trunc)
      << NetlensConfig("127.0.0.1:" + std::to_string(netlens.port()), "process") << tail;
  netlens.Signal(SIGHUP);
  for (int i = 0; i < 100 && ReloadsOk(netlens) < reloads; ++i)
    std::this_thread::sleep_for(milliseconds(50));
  INFO(netlens.Report());
  REQUIRE(ReloadsOk(netlens) == reloads);
}

TEST_CASE("http bounds: 10,000 distinct paths keep 50 routes and /{overflow}, counts exact",
          "[http_bounds]") {
  constexpr uint64_t kRequests = 10000;
  constexpr uint64_t kBudget = 50;
  TempDir dir;
  Nginx nginx(dir);
  NetlensProcess netlens(
      "process", {},
      HttpRequests({nginx.comm()}, "  route_budget: " + std::to_string(kBudget) + "\n"));
  // "page" has letters that are not hex digits: no {id} (http/routes.h), 10,000 routes.
  const Load load =
      RunLoad("/usr/bin/python3", nginx.port(), {"/r/page{i}*" + std::to_string(kRequests)});
  REQUIRE(load.requests == kRequests);
  REQUIRE(load.statuses == "200:" + std::to_string(kRequests));

  const Labels server = {{"comm", nginx.comm()}};
  const std::string count = CountOf(metric::kHttpServerRequestDurationSeconds);
  const Scrape scrape = ScrapeUntil(
      netlens, [&](const Scrape& s) { return Sum(s.samples, count, server) >= kRequests; });
  RequireNothingLost(scrape);
  RequireValue(scrape, count, server, kRequests, Match::kSum);
  // The budget is taken in arrival order: /r/page0 .. /r/page49, then every path overflows.
  std::map<std::string, double> expected;
  for (uint64_t i = 0; i < kBudget; ++i) expected["/r/page" + std::to_string(i)] = 1;
  expected["/{overflow}"] = kRequests - kBudget;
  INFO(RelevantLines(scrape, count, server));
  REQUIRE(CountsByRoute(scrape, metric::kHttpServerRequestDurationSeconds, server) == expected);
  RequireValue(scrape, metric::kHttpRouteOverflowTotal, {{"service", nginx.comm()}},
               kRequests - kBudget);
  // Every request in each family of the server side: time to first byte, both body sizes
  // (no request body; "ok\n" answered).
  RequireValue(scrape, CountOf(metric::kHttpServerTimeToFirstByteSeconds), server, kRequests,
               Match::kSum);
  RequireValue(scrape, CountOf(metric::kHttpServerRequestBodySizeBytes), server, kRequests,
               Match::kSum);
  RequireValue(scrape, SumOf(metric::kHttpServerRequestBodySizeBytes), server, 0, Match::kSum);
  RequireValue(scrape, SumOf(metric::kHttpServerResponseBodySizeBytes), server, 3 * kRequests,
               Match::kSum);
  // One connection, nginx's end (python3 is not watched); no client series.
  RequireValue(scrape, kClassified, {{"verdict", "http"}}, 1);
  REQUIRE(Select(scrape.samples, CountOf(metric::kHttpClientRequestDurationSeconds), {}).empty());
}

TEST_CASE("http bounds: a non-HTTP target is classified other, nothing captured", "[http_bounds]") {
  constexpr int kConnections = 3;
  TempDir dir;
  const std::string comm = UniqueComm();
  NetlensProcess netlens("process", {}, HttpRequests({comm}));
  // nl-traffic's bytes: 'c'... requests, 's'... responses. 6 rounds give each end 12 calls, past
  // the 8 unknown segments after which a connection is other (ebpf/http/capture.h).
  const Output output = Child({Linked(dir, TrafficBinary(), comm), "--comm", comm, "--connections",
                               std::to_string(kConnections), "--rounds", "6"},
                              SpawnOptions{})
                            .Communicate(milliseconds(60000));
  INFO("nl-traffic: " << output.out << output.err);
  REQUIRE(output.status.Success());

  // Both ends of each connection belong to watched processes (the server is nl-traffic's
  // child, watched from its fork): 2 connections of watched processes per connection.
  const Scrape scrape = ScrapeUntil(netlens, [&](const Scrape& s) {
    return Sum(s.samples, kClassified, {{"verdict", "other"}}) >= 2 * kConnections;
  });
  RequireValue(scrape, kClassified, {{"verdict", "other"}}, 2 * kConnections);
  RequireValue(scrape, kClassified, {{"verdict", "http"}}, 0);
  RequireValue(scrape, kClassified, {{"verdict", "tls"}}, 0);
  RequireValue(scrape, kSegments, {}, 0, Match::kSum);
  RequireValue(scrape, kCloses, {}, 0);
  RequireValue(scrape, kLost, {}, 0, Match::kSum);
  RequireValue(scrape, kParserConnections, {}, 0);
  for (const Sample& sample : scrape.samples) {
    INFO(Format(sample));
    REQUIRE(sample.name.rfind("http_", 0) != 0);
  }
  // It was watched for real: nl-traffic's own TCP series are there.
  REQUIRE(Sum(scrape.samples, metric::kSentBytes, {{"comm", comm}}) > 0);
}

TEST_CASE("http bounds: 3 pipelined requests in one write are 3 exchanges on both sides",
          "[http_bounds]") {
  TempDir dir;
  Nginx nginx(dir);
  const std::string client = UniqueComm();
  NetlensProcess netlens("process", {}, HttpRequests({nginx.comm(), client}));
  const Load load = RunLoad(Linked(dir, "/usr/bin/python3", client), nginx.port(),
                            {"--pipeline", "/p/a", "/p/b", "/m/c"});
  REQUIRE(load.requests == 3);
  REQUIRE(load.writes == 1);
  REQUIRE(load.statuses == "200:2,404:1");

  const Labels server = {{"comm", nginx.comm()}};
  const Labels clients = {
      {"comm", client}, {"server_address", "127.0.0.1"}, {"server_port", nginx.PortLabel()}};
  const std::string server_count = CountOf(metric::kHttpServerRequestDurationSeconds);
  const std::string client_count = CountOf(metric::kHttpClientRequestDurationSeconds);
  // The client's close ends its connection: then nothing is pending on either side.
  const Scrape scrape = ScrapeUntil(netlens, [&](const Scrape& s) {
    return Sum(s.samples, server_count, server) >= 3 && Sum(s.samples, client_count, {}) >= 3 &&
           Sum(s.samples, kCloses, {}) >= 2;
  });
  RequireNothingLost(scrape);
  RequireValue(scrape, metric::kHttpUnansweredRequestsTotal, {}, 0);
  const std::map<std::string, double> expected = {{"/p/a", 1}, {"/p/b", 1}, {"/m/c", 1}};
  INFO(RelevantLines(scrape, server_count, server) << RelevantLines(scrape, client_count, clients));
  REQUIRE(CountsByRoute(scrape, metric::kHttpServerRequestDurationSeconds, server) == expected);
  REQUIRE(CountsByRoute(scrape, metric::kHttpClientRequestDurationSeconds, clients) == expected);
  for (const auto& [labels, count] :
       {std::pair{server, server_count}, std::pair{clients, client_count}}) {
    RequireValue(scrape, count, labels, 3, Match::kSum);
    Labels missing = labels;
    missing["http_response_status_code"] = "404";
    RequireValue(scrape, count, missing, 1, Match::kSum);
  }
  RequireValue(scrape, client_count, {}, 3, Match::kSum);  // all with nginx as their server
  RequireValue(scrape, CountOf(metric::kHttpClientTimeToFirstByteSeconds), clients, 3, Match::kSum);
  // One connection seen from both ends.
  RequireValue(scrape, kClassified, {{"verdict", "http"}}, 2);
}

TEST_CASE("http bounds: over limits.series_per_family the other series carries the rest",
          "[http_bounds]") {
  constexpr int kBudget = 5;  // series per family, "other" included
  TempDir dir;
  Nginx nginx(dir);
  NetlensProcess netlens("process", {},
                         "limits:\n  series_per_family: " + std::to_string(kBudget) + "\n" +
                             HttpRequests({nginx.comm()}));
  // 8 keys (route, status), key i requested i + 1 times, one key after the other: the first
  // kBudget - 1 keep series of their own, the last 4 share "other".
  const std::vector<std::string> paths = {"/k/alpha", "/k/bravo",   "/m/charlie", "/k/delta",
                                          "/m/echo",  "/k/foxtrot", "/m/golf",    "/k/hotel"};
  std::vector<std::string> specs;
  double total = 0;
  for (size_t i = 0; i < paths.size(); ++i) {
    specs.push_back(paths[i] + "*" + std::to_string(i + 1));
    total += static_cast<double>(i + 1);
  }
  const Load load = RunLoad("/usr/bin/python3", nginx.port(), specs);
  REQUIRE(load.requests == total);
  REQUIRE(load.statuses == "200:21,404:15");

  const std::string count = CountOf(metric::kHttpServerRequestDurationSeconds);
  const Scrape scrape =
      ScrapeUntil(netlens, [&](const Scrape& s) { return Sum(s.samples, count, {}) >= total; });
  RequireNothingLost(scrape);
  // Only nginx is watched: the family's sum over all its series is the whole load.
  RequireValue(scrape, count, {}, total, Match::kSum);
  const Labels server = {{"comm", nginx.comm()}};
  const std::map<std::string, double> kept = {
      {"/k/alpha", 1}, {"/k/bravo", 2}, {"/m/charlie", 3}, {"/k/delta", 4}};
  INFO(RelevantLines(scrape, count, {}));
  REQUIRE(CountsByRoute(scrape, metric::kHttpServerRequestDurationSeconds, server) == kept);
  RequireValue(scrape, count, {{"comm", "other"}, {"http_route", "other"}}, 5 + 6 + 7 + 8);
  for (const std::string_view family :
       {metric::kHttpServerRequestDurationSeconds, metric::kHttpServerTimeToFirstByteSeconds,
        metric::kHttpServerRequestBodySizeBytes, metric::kHttpServerResponseBodySizeBytes}) {
    RequireValue(scrape, CountOf(family), {}, total, Match::kSum);
    RequireValue(scrape, metric::kSeries, {{"family", std::string(family)}}, kBudget);
    RequireValue(scrape, metric::kSeriesFolded, {{"family", std::string(family)}}, 4);
  }
}

// Series expiry against the daemon (the unit test is test_http_aggregator.cpp): a client's
// series stay while it runs and for process_ttl after it exits, once a scrape has shown them,
// then go, each counted in netlens_http_series_expired_total.
TEST_CASE("http bounds: an exited client's series go process_ttl after a scrape showed them",
          "[http_bounds]") {
  TempDir dir;
  Nginx nginx(dir);
  const std::string client_comm = UniqueComm();
  const std::string client = Linked(dir, "/usr/bin/python3", client_comm);
  NetlensProcess netlens("process", {}, "process_ttl: 2s\n" + HttpRequests({client_comm}));
  const Load load = RunLoad(client, nginx.port(), {"/k/alpha*3", "/m/bravo*2"});
  REQUIRE(load.requests == 5);
  REQUIRE(load.statuses == "200:3,404:2");
  const auto exited = std::chrono::steady_clock::now();  // RunLoad waited for its exit

  // Two series (one per route and status) of the client side, each in every client family.
  const std::string count = CountOf(metric::kHttpClientRequestDurationSeconds);
  const Labels mine = {{"comm", client_comm}};
  Scrape scrape =
      ScrapeUntil(netlens, [&](const Scrape& s) { return Sum(s.samples, count, mine) >= 5; });
  RequireNothingLost(scrape);
  INFO(RelevantLines(scrape, count, {}));
  REQUIRE(CountsByRoute(scrape, metric::kHttpClientRequestDurationSeconds, mine) ==
          std::map<std::string, double>{{"/k/alpha", 3}, {"/m/bravo", 2}});
  RequireValue(scrape, "netlens_http_series_expired_total", {}, 0);

  // Scrapes every 100 ms show the series; they go no sooner than process_ttl after the exit.
  scrape =
      ScrapeUntil(netlens, [&](const Scrape& s) { return Select(s.samples, count, mine).empty(); });
  const auto gone = std::chrono::steady_clock::now() - exited;
  INFO(netlens.Report());
  REQUIRE(Select(scrape.samples, count, mine).empty());
  REQUIRE(gone >= std::chrono::seconds(2));
  RequireValue(scrape, "netlens_http_series_expired_total", {}, 2);
  // The server's side is not watched: nothing else was counted.
  RequireValue(scrape, count, {}, 0, Match::kSum);
}

TEST_CASE("http bounds: over limits.connections a connection is skipped, counted once",
          "[http_bounds]") {
  constexpr int kRequests = 5;
  TempDir dir;
  Nginx nginx(dir);
  const std::string client = UniqueComm();
  NetlensProcess netlens("process", {},
                         HttpRequests({nginx.comm(), client}, "  limits:\n    connections: 1\n"));
  const Load load = RunLoad(Linked(dir, "/usr/bin/python3", client), nginx.port(),
                            {"/c/one*" + std::to_string(kRequests)});
  REQUIRE(load.statuses == "200:" + std::to_string(kRequests));

  // One connection, two ends: whichever end's first call came first is parsed (the client's
  // send, or nginx's receive if it returned first), the other finds the table full at each of
  // its calls and is one connection skipped.
  const std::string server_count = CountOf(metric::kHttpServerRequestDurationSeconds);
  const std::string client_count = CountOf(metric::kHttpClientRequestDurationSeconds);
  const Scrape scrape = ScrapeUntil(netlens, [&](const Scrape& s) {
    return Sum(s.samples, server_count, {}) + Sum(s.samples, client_count, {}) >= kRequests &&
           Sum(s.samples, kParserConnections, {}) == 0;
  });
  const double server = Sum(scrape.samples, server_count, {{"comm", nginx.comm()}});
  const double clients = Sum(scrape.samples, client_count, {{"comm", client}});
  INFO("server side " << server << ", client side " << clients);
  REQUIRE(server + clients == kRequests);
  REQUIRE((server == 0 || clients == 0));
  RequireValue(scrape, kConnectionsDropped, {{"reason", "skipped"}}, 1);
  RequireValue(scrape, kConnectionsDropped, {{"reason", "evicted"}}, 0);
  RequireValue(scrape, kParserConnections, {}, 0);
  RequireValue(scrape, kClassified, {{"verdict", "http"}}, 2);
}

TEST_CASE("http bounds: SIGHUP applies new routes, and turning http_requests off watches nothing",
          "[http_bounds]") {
  TempDir dir;
  Nginx nginx(dir);
  NetlensProcess netlens("process", {}, HttpRequests({nginx.comm()}));
  const Labels server = {{"comm", nginx.comm()}};
  const std::string count = CountOf(metric::kHttpServerRequestDurationSeconds);
  RunLoad("/usr/bin/python3", nginx.port(), {"/u/alice", "/u/bob"});
  Scrape scrape =
      ScrapeUntil(netlens, [&](const Scrape& s) { return Sum(s.samples, count, server) >= 2; });
  REQUIRE(CountsByRoute(scrape, metric::kHttpServerRequestDurationSeconds, server) ==
          std::map<std::string, double>{{"/u/alice", 1}, {"/u/bob", 1}});

  // Routes added: the series start afresh under the new routes.
  Reload(netlens,
         HttpRequests({nginx.comm()}, "  routes:\n    - service: " + nginx.comm() +
                                          "\n      patterns: [\"/u/{user}\"]\n"),
         1);
  RunLoad("/usr/bin/python3", nginx.port(), {"/u/carol", "/u/dave", "/u/erin"});
  scrape =
      ScrapeUntil(netlens, [&](const Scrape& s) { return Sum(s.samples, count, server) >= 3; });
  RequireNothingLost(scrape);
  INFO(RelevantLines(scrape, count, server));
  REQUIRE(CountsByRoute(scrape, metric::kHttpServerRequestDurationSeconds, server) ==
          std::map<std::string, double>{{"/u/{user}", 3}});
  // The master and its worker, at the daemon's scan (every second).
  scrape = ScrapeUntil(netlens,
                       [&](const Scrape& s) { return Sum(s.samples, kProcessesWatched, {}) == 2; });
  RequireValue(scrape, kProcessesWatched, {}, 2);

  // Off: nothing watched from the reload on; nginx's next requests are not captured.
  Reload(netlens, "", 2);
  scrape = netlens.ScrapeMetrics();
  RequireValue(scrape, kProcessesWatched, {}, 0);
  const double segments = Sum(scrape.samples, kSegments, {});
  RunLoad("/usr/bin/python3", nginx.port(), {"/u/frank*5"});
  scrape = netlens.ScrapeMetrics();
  RequireValue(scrape, kProcessesWatched, {}, 0);
  RequireValue(scrape, kSegments, {}, segments, Match::kSum);
  RequireValue(scrape, count, {}, 0, Match::kSum);
}

}  // namespace
}  // namespace netlens::test
