// HTTP request metrics (issue 16) from the real nginx (Debian's), its clients and its backend:
// every request nginx's access log records is counted by netlens exactly, per method, route
// and status, on each side of each connection: nginx as the server of curl and of a pipelining
// client, nginx as the client of its backend, the backend as their server. With keep-alive,
// clients in parallel, three requests pipelined in one write, HEAD, POST bodies, a chunked
// backend response and bodies sent by sendfile.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "exposition.h"
#include "netlens_process.h"
#include "nginx_child.h"
#include "ports.h"
#include "subprocess.h"
#include "temp_dir.h"

namespace netlens::test {
namespace {

using std::chrono::milliseconds;

constexpr size_t kSmallFile = 777;
constexpr size_t kLargeFile = 300 * 1024 + 17;  // sent by sendfile, in several calls
constexpr size_t kPostBody = 1234;

// (method, route, status): the labels a request's series has.
using RequestKey = std::tuple<std::string, std::string, std::string>;

// The routes of config/examples-style patterns below, for the test's own paths.
std::string RouteOf(const std::string& path) {
  if (path.starts_with("/static/")) return "/static/{file...}";
  if (path.starts_with("/b/")) return "/b/{name}";
  return path;
}

struct LoggedRequest {
  RequestKey key;
  double request_time = 0;
  bool upstream = false;
};

// log_format: '$request_method $request_uri $status $request_time'.
std::vector<LoggedRequest> ReadAccessLog(const std::string& path) {
  std::vector<LoggedRequest> requests;
  std::ifstream in(path);
  std::string method, uri, status;
  double seconds = 0;
  while (in >> method >> uri >> status >> seconds) {
    const std::string path_only = uri.substr(0, uri.find('?'));  // never a label
    requests.push_back(
        {{method, RouteOf(path_only), status}, seconds, path_only.starts_with("/b/")});
  }
  return requests;
}

// nginx.conf up to the http block's servers: 2 workers, the access log ReadAccessLog reads.
std::string NginxHead(const TempDir& dir) {
  std::ostringstream conf;
  conf << "daemon off;\nmaster_process on;\nworker_processes 2;\nuser root;\n"
       << "pid " << dir.PathOf("nginx.pid") << ";\nerror_log " << dir.PathOf("error.log")
       << ";\nevents { worker_connections 256; }\nhttp {\n"
       << "  log_format requests '$request_method $request_uri $status $request_time';\n"
       << "  access_log " << dir.PathOf("access.log") << " requests;\n";
  return conf.str();
}

std::string NginxConfig(const TempDir& dir, uint16_t port, uint16_t backend) {
  std::ostringstream conf;
  conf << NginxHead(dir) << "  sendfile on;\n  keepalive_requests 1000;\n"
       << "  upstream backend { server 127.0.0.1:" << backend << "; keepalive 4; }\n"
       << "  server {\n    listen 127.0.0.1:" << port << ";\n    root " << dir.PathOf("www")
       << ";\n    location /b/ {\n      proxy_pass http://backend;\n"
       << "      proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n    }\n"
       << "  }\n}\n";
  return conf.str();
}

std::string HttpRequestsConfig() {
  return "http_requests:\n"
         "  processes:\n"
         "    include:\n"
         "      - comm: nginx\n"
         "      - comm: curl\n"
         "      - comm: http_peers.py\n"  // a script's comm is its file name
         "  routes:\n"
         "    - service: nginx\n"
         "      patterns: &routes [\"/static/{file...}\", \"/b/{name}\"]\n"
         "    - service: curl\n"
         "      patterns: *routes\n"
         "    - service: http_peers.py\n"
         "      patterns: *routes\n";
}

// Sums of the request-count samples (the duration histogram's _count) per key.
std::map<RequestKey, double> CountsOf(const Scrape& scrape, const std::string& family,
                                      const Labels& subset) {
  std::map<RequestKey, double> counts;
  for (const Sample* sample : Select(scrape.samples, family + "_count", subset)) {
    const Labels& l = sample->labels;
    counts[{l.at("http_request_method"), l.at("http_route"), l.at("http_response_status_code")}] +=
        sample->value;
  }
  return counts;
}

double Total(const std::map<RequestKey, double>& counts) {
  double total = 0;
  for (const auto& [key, value] : counts) total += value;
  return total;
}

std::string Describe(const std::map<RequestKey, double>& counts) {
  std::ostringstream out;
  for (const auto& [key, value] : counts)
    out << std::get<0>(key) << " " << std::get<1>(key) << " " << std::get<2>(key) << ": " << value
        << "\n";
  return out.str();
}

TEST_CASE("http requests: nginx's access log is what netlens counts on every side", "[http]") {
  TempDir dir;
  const uint16_t port = FreeLoopbackPort();
  const uint16_t backend_port = FreeLoopbackPort();
  REQUIRE(system(("mkdir -p " + dir.PathOf("www/static")).c_str()) == 0);
  dir.Write("www/index.html", "hello\n");
  dir.Write("www/static/small.txt", std::string(kSmallFile, 's'));
  dir.Write("www/static/large.bin", std::string(kLargeFile, 'l'));
  const std::string body = dir.Write("body.txt", std::string(kPostBody, 'p'));
  const std::string conf = dir.Write("nginx.conf", NginxConfig(dir, port, backend_port));

  // netlens first: the kernel then watches nginx, curl and python3 from their exec on.
  NetlensProcess netlens("process", {}, HttpRequestsConfig());
  HttpPeersBackend backend(backend_port);
  const NginxChild nginx(dir, conf);
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  for (int i = 0; i < 100 && system(("curl -s -o /dev/null " + base + "/").c_str()) != 0; ++i)
    std::this_thread::sleep_for(milliseconds(100));  // until nginx serves (these count too)

  const auto run = [](std::vector<std::string> argv) {
    const Output output = Child(std::move(argv), SpawnOptions{}).Communicate(milliseconds(60000));
    INFO(output.err);
    REQUIRE(output.status.Success());
    return output.out;
  };
  // Keep-alive, three transfers in parallel: static files (sendfile) and each backend status.
  std::vector<std::string> parallel = {"/usr/bin/curl",  "-s", "--http1.1", "-Z",
                                       "--parallel-max", "3"};
  for (int i = 0; i < 10; ++i) {
    for (const char* path : {"/static/small.txt", "/static/large.bin", "/b/ok", "/b/missing",
                             "/b/fail", "/b/chunked"}) {
      parallel.insert(parallel.end(), {"-o", "/dev/null", base + path + "?i=" + std::to_string(i)});
    }
  }
  run(parallel);
  run({"/usr/bin/curl", "-s", "--http1.1", "-o", "/dev/null", "-I", base + "/static/small.txt",
       base + "/static/large.bin?head=1"});
  run({"/usr/bin/curl", "-s", "--http1.1", "-o", "/dev/null", "--data-binary", "@" + body,
       base + "/b/created", base + "/b/created?again=1"});
  const std::string pipelined = run({NL_HTTP_PEERS_SCRIPT, "pipeline", std::to_string(port),
                                     "/index.html", "/b/ok", "/index.html?last=1"});
  INFO(pipelined);
  REQUIRE(pipelined.find("statuses=200,200,200") != std::string::npos);

  // The access log, and what each side must have counted.
  const std::vector<LoggedRequest> log = ReadAccessLog(dir.PathOf("access.log"));
  std::map<RequestKey, double> server, upstream;
  std::map<RequestKey, double> durations;  // $request_time sums
  for (const LoggedRequest& request : log) {
    server[request.key] += 1;
    durations[request.key] += request.request_time;
    if (request.upstream) upstream[request.key] += 1;
  }
  // Only the pipelined client asks for /index.html: its key's durations differ by definition
  // (below).
  const RequestKey pipelined_only = {"GET", "/index.html", "200"};
  const std::map<RequestKey, double> pipeline_client = {{pipelined_only, 2},
                                                        {{"GET", "/b/{name}", "200"}, 1}};
  std::map<RequestKey, double> curl = server;
  for (const auto& [key, value] : pipeline_client) curl[key] -= value;
  INFO("access log:\n" << Describe(server));
  REQUIRE(log.size() >= 60 + 2 + 2 + 3 + 1);
  REQUIRE(server[{"HEAD", "/static/{file...}", "200"}] == 2);
  REQUIRE(server[{"POST", "/b/{name}", "201"}] == 2);

  const Labels backend_port_label = {{"server_port", std::to_string(backend_port)}};
  const Labels nginx_port_label = {{"server_port", std::to_string(port)}};
  std::map<RequestKey, double> seen_server, seen_curl, seen_pipeline, seen_upstream, seen_backend;
  Scrape scrape;
  // Exchanges end with their response's last byte; the drain runs every 100 ms.
  for (int i = 0; i < 100; ++i) {
    scrape = netlens.ScrapeMetrics();
    seen_server = CountsOf(scrape, "http_server_request_duration_seconds", {{"comm", "nginx"}});
    seen_curl = CountsOf(scrape, "http_client_request_duration_seconds",
                         {{"comm", "curl"}, {"server_port", std::to_string(port)}});
    seen_pipeline = CountsOf(scrape, "http_client_request_duration_seconds",
                             {{"comm", "http_peers.py"}, {"server_port", std::to_string(port)}});
    seen_upstream = CountsOf(scrape, "http_client_request_duration_seconds",
                             {{"comm", "nginx"}, {"server_port", std::to_string(backend_port)}});
    seen_backend =
        CountsOf(scrape, "http_server_request_duration_seconds", {{"comm", "http_peers.py"}});
    if (Total(seen_server) >= log.size() && Total(seen_upstream) >= Total(upstream) &&
        Total(seen_backend) >= Total(upstream) && Total(seen_curl) >= Total(curl))
      break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  INFO(netlens.Report());
  std::erase_if(curl, [](const auto& entry) { return entry.second == 0; });
  CHECK(Describe(seen_server) == Describe(server));
  CHECK(Describe(seen_curl) == Describe(curl));
  CHECK(Describe(seen_pipeline) == Describe(pipeline_client));
  CHECK(Describe(seen_upstream) == Describe(upstream));
  CHECK(Describe(seen_backend) == Describe(upstream));

  // Bodies: sendfile'd files, HEAD without one, POST bodies on each hop.
  const Labels static_ok = {{"comm", "nginx"},
                            {"http_request_method", "GET"},
                            {"http_route", "/static/{file...}"},
                            {"http_response_status_code", "200"}};
  const double files = server[{"GET", "/static/{file...}", "200"}];
  CHECK(Sum(scrape.samples, "http_server_response_body_size_bytes_sum", static_ok) ==
        10 * kLargeFile + (files - 10) * kSmallFile);
  CHECK(Sum(scrape.samples, "http_server_response_body_size_bytes_sum",
            {{"comm", "nginx"}, {"http_request_method", "HEAD"}}) == 0);
  const Labels posts = {{"http_request_method", "POST"}, {"http_response_status_code", "201"}};
  Labels nginx_posts = posts, upstream_posts = posts, backend_posts = posts;
  nginx_posts["comm"] = "nginx";
  upstream_posts["comm"] = "nginx";
  upstream_posts["server_port"] = std::to_string(backend_port);
  backend_posts["comm"] = "http_peers.py";
  CHECK(Sum(scrape.samples, "http_server_request_body_size_bytes_sum", nginx_posts) ==
        2 * kPostBody);
  CHECK(Sum(scrape.samples, "http_client_request_body_size_bytes_sum", upstream_posts) ==
        2 * kPostBody);
  CHECK(Sum(scrape.samples, "http_server_request_body_size_bytes_sum", backend_posts) ==
        2 * kPostBody);
  // The chunked response: 2,107 bytes of data per request, without the chunk framing.
  const Labels chunked = {{"comm", "http_peers.py"},
                          {"http_route", "/b/{name}"},
                          {"http_request_method", "GET"},
                          {"http_response_status_code", "200"}};
  const double backend_ok = upstream[{"GET", "/b/{name}", "200"}];
  CHECK(Sum(scrape.samples, "http_server_response_body_size_bytes_sum", chunked) ==
        10 * 2107 + (backend_ok - 10) * 100);

  // Durations against $request_time (millisecond resolution, from nginx's cached clock): per
  // request within 1 ms plus 2 ms for the whole series. A pipelined request's duration starts
  // with the read that brought it (docs/metrics.md), $request_time when nginx turns to it, after
  // the requests before it: the third waits for the backend's /b/ok, so its key may only be
  // longer.
  for (const auto& [key, logged] : durations) {
    const Labels labels = {{"comm", "nginx"},
                           {"http_request_method", std::get<0>(key)},
                           {"http_route", std::get<1>(key)},
                           {"http_response_status_code", std::get<2>(key)}};
    const double measured = Sum(scrape.samples, "http_server_request_duration_seconds_sum", labels);
    INFO(Describe({{key, server[key]}}) << "netlens " << measured << " s, log " << logged << " s");
    if (key == pipelined_only)
      CHECK(measured >= logged - (0.001 * server[key] + 0.002));
    else
      CHECK(std::abs(measured - logged) <= 0.001 * server[key] + 0.002);
  }
  // Nothing was lost on the way.
  CHECK(Sum(scrape.samples, "netlens_http_capture_lost_total", {}) == 0);
  for (const Sample* errors : Select(scrape.samples, "netlens_http_parse_errors_total", {}))
    CHECK(errors->labels.at("reason") + " " + std::to_string(errors->value) ==
          errors->labels.at("reason") + " 0.000000");
  CHECK(Sum(scrape.samples, "netlens_http_unmatched_responses_total", {}) == 0);
  backend.Stop();
}

// HTTPS: nginx with TLS (a certificate made at test time) and a Python client, both watched
// with http_requests.tls; their plaintext, read through OpenSSL's uprobes, is counted against
// nginx's access log. Needs Linux >= 6.6 (per-process uprobe_multi links).
TEST_CASE("http requests: HTTPS through OpenSSL, nginx's access log against netlens",
          "[http][https]") {
  TempDir dir;
  const uint16_t port = FreeLoopbackPort();
  REQUIRE(system(("mkdir -p " + dir.PathOf("www/static")).c_str()) == 0);
  dir.Write("www/index.html", "hello\n");
  dir.Write("www/static/small.txt", std::string(kSmallFile, 's'));
  const Output cert = Run({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                           "-keyout", dir.PathOf("key.pem"), "-out", dir.PathOf("cert.pem"),
                           "-days", "1", "-subj", "/CN=localhost"},
                          milliseconds(60000));
  REQUIRE(cert.status.Success());
  std::ostringstream conf;
  conf << NginxHead(dir) << "  server {\n    listen 127.0.0.1:" << port
       << " ssl;\n    ssl_certificate " << dir.PathOf("cert.pem") << ";\n    ssl_certificate_key "
       << dir.PathOf("key.pem") << ";\n    root " << dir.PathOf("www") << ";\n  }\n}\n";
  const std::string conf_path = dir.Write("nginx.conf", conf.str());

  NetlensProcess netlens("process", {},
                         "http_requests:\n  tls: true\n  processes:\n    include:\n"
                         "      - comm: nginx\n      - comm: http_peers.py\n  routes:\n"
                         "    - service: nginx\n      patterns: &routes [\"/static/{file...}\"]\n"
                         "    - service: http_peers.py\n      patterns: *routes\n");
  const NginxChild nginx(dir, conf_path);
  // The uprobes are attached per process at the daemon's scan (every second): first nginx's
  // master and 2 workers, before any request, so that its side sees every one.
  const auto wait_probed = [&](double processes) {
    for (int i = 0; i < 100; ++i) {
      const Scrape scrape = netlens.ScrapeMetrics();
      if (Sum(scrape.samples, "netlens_http_tls_processes", {{"state", "probed"}}) >= processes)
        return;
      std::this_thread::sleep_for(milliseconds(100));
    }
  };
  wait_probed(3);
  const std::string base = "https://127.0.0.1:" + std::to_string(port);
  for (int i = 0; i < 100 && system(("curl -sk -o /dev/null " + base + "/").c_str()) != 0; ++i)
    std::this_thread::sleep_for(milliseconds(100));

  std::vector<std::string> argv = {NL_HTTP_PEERS_SCRIPT, "tls", std::to_string(port)};
  for (int i = 0; i < 10; ++i) {
    argv.push_back("/static/small.txt?i=" + std::to_string(i));
    argv.push_back("/static/missing" + std::to_string(i % 2) + ".txt");
  }
  Child client(argv, SpawnOptions{.stdin_pipe = true});
  REQUIRE(client.ReadLine(milliseconds(10000)) == std::optional<std::string>("ready"));
  wait_probed(4);  // and the client
  client.WriteStdin("go\n");
  const std::optional<std::string> statuses = client.ReadLine(milliseconds(30000));
  REQUIRE(statuses.has_value());
  REQUIRE(statuses->starts_with("statuses=200,404"));
  client.CloseStdin();

  std::map<RequestKey, double> server, ours;
  for (const LoggedRequest& request : ReadAccessLog(dir.PathOf("access.log"))) {
    server[request.key] += 1;
  }
  ours[{"GET", "/static/{file...}", "200"}] = 10;
  ours[{"GET", "/static/{file...}", "404"}] = 10;
  std::map<RequestKey, double> seen_server, seen_client;
  Scrape scrape;
  for (int i = 0; i < 100; ++i) {
    scrape = netlens.ScrapeMetrics();
    seen_server = CountsOf(scrape, "http_server_request_duration_seconds", {{"comm", "nginx"}});
    seen_client = CountsOf(scrape, "http_client_request_duration_seconds",
                           {{"comm", "http_peers.py"}, {"server_port", std::to_string(port)}});
    if (Total(seen_client) >= 20 && Total(seen_server) >= Total(server) - 0.5) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  INFO(netlens.Report());
  INFO("access log:\n" << Describe(server));
  // The readiness probes (curl, not watched) are requests nginx served: its side has them.
  CHECK(Describe(seen_server) == Describe(server));
  CHECK(Describe(seen_client) == Describe(ours));
  const Labels small_ok = {{"comm", "nginx"},
                           {"http_request_method", "GET"},
                           {"http_route", "/static/{file...}"},
                           {"http_response_status_code", "200"}};
  CHECK(Sum(scrape.samples, "http_server_response_body_size_bytes_sum", small_ok) ==
        10 * kSmallFile);
  CHECK(Sum(scrape.samples, "netlens_http_capture_lost_total", {}) == 0);
}

// HTTP/2 (issue 19): nginx's http2 listener and Debian's h2load (nghttp2), the requests of a run
// streams of one connection; plain HTTP/2 requests get the HTTP families.
struct Http2Run {
  std::map<RequestKey, double> server, seen_server, seen_client;
  Scrape scrape;
};

Http2Run RunHttp2(bool tls) {
  TempDir dir;
  const uint16_t port = FreeLoopbackPort();
  REQUIRE(system(("mkdir -p " + dir.PathOf("www/static")).c_str()) == 0);
  dir.Write("www/index.html", "hello\n");
  dir.Write("www/static/small.txt", std::string(kSmallFile, 's'));
  std::ostringstream conf;
  conf << NginxHead(dir) << "  server {\n    listen 127.0.0.1:" << port
       << (tls ? " ssl http2;\n" : " http2;\n");
  if (tls) {
    const Output cert = Run({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                             "-keyout", dir.PathOf("key.pem"), "-out", dir.PathOf("cert.pem"),
                             "-days", "1", "-subj", "/CN=localhost"},
                            milliseconds(60000));
    REQUIRE(cert.status.Success());
    conf << "    ssl_certificate " << dir.PathOf("cert.pem") << ";\n    ssl_certificate_key "
         << dir.PathOf("key.pem") << ";\n";
  }
  conf << "    root " << dir.PathOf("www") << ";\n  }\n}\n";
  const std::string conf_path = dir.Write("nginx.conf", conf.str());
  NetlensProcess netlens("process", {},
                         std::string("http_requests:\n  protocols: [http, http2]\n") +
                             (tls ? "  tls: true\n" : "") +
                             "  processes:\n    include:\n      - comm: nginx\n"
                             "      - comm: h2load\n  routes:\n    - service: nginx\n"
                             "      patterns: &routes [\"/static/{file...}\"]\n"
                             "    - service: h2load\n      patterns: *routes\n");
  const NginxChild nginx(dir, conf_path);
  if (tls) {  // nginx's master and 2 workers probed before any request
    for (int i = 0; i < 100; ++i) {
      if (Sum(netlens.ScrapeMetrics().samples, "netlens_http_tls_processes",
              {{"state", "probed"}}) >= 3)
        break;
      std::this_thread::sleep_for(milliseconds(100));
    }
  }
  const std::string base =
      (tls ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(port);
  const std::string ready =
      tls ? "curl -sk --http2 -o /dev/null " : "curl -s --http2-prior-knowledge -o /dev/null ";
  for (int i = 0; i < 100 && system((ready + base + "/").c_str()) != 0; ++i)
    std::this_thread::sleep_for(milliseconds(100));  // until nginx serves (these count too)
  // One h2load client, one connection, 20 streams one after the other (-m 1), alternating
  // between the two paths.
  const std::vector<std::string> argv = {
      "/usr/bin/h2load",           "-n", "20", "-c", "1", "-m", "1", base + "/static/small.txt",
      base + "/static/missing.txt"};
  const Output output = Child(argv, SpawnOptions{}).Communicate(milliseconds(60000));
  INFO(output.err);
  REQUIRE(output.status.Success());

  Http2Run run;
  for (const LoggedRequest& request : ReadAccessLog(dir.PathOf("access.log"))) {
    run.server[request.key] += 1;
  }
  REQUIRE(run.server[{"GET", "/static/{file...}", "200"}] == 10);
  REQUIRE(run.server[{"GET", "/static/{file...}", "404"}] == 10);
  for (int i = 0; i < 100; ++i) {
    run.scrape = netlens.ScrapeMetrics();
    run.seen_server =
        CountsOf(run.scrape, "http_server_request_duration_seconds", {{"comm", "nginx"}});
    run.seen_client = CountsOf(run.scrape, "http_client_request_duration_seconds",
                               {{"comm", "h2load"}, {"server_port", std::to_string(port)}});
    if (Total(run.seen_server) >= Total(run.server) && (tls || Total(run.seen_client) >= 20)) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  return run;
}

TEST_CASE("http requests: HTTP/2 streams (h2c), nginx's access log against netlens",
          "[http][http2]") {
  const Http2Run run = RunHttp2(false);
  INFO("access log:\n" << Describe(run.server));
  // The readiness probes (curl, not watched) are requests nginx served: its side has them.
  CHECK(Describe(run.seen_server) == Describe(run.server));
  std::map<RequestKey, double> h2load;
  h2load[{"GET", "/static/{file...}", "200"}] = 10;
  h2load[{"GET", "/static/{file...}", "404"}] = 10;
  CHECK(Describe(run.seen_client) == Describe(h2load));
  for (const char* comm : {"nginx", "h2load"}) {
    const Labels small_ok = {{"comm", comm},
                             {"http_request_method", "GET"},
                             {"http_route", "/static/{file...}"},
                             {"http_response_status_code", "200"}};
    INFO(comm);
    CHECK(Sum(run.scrape.samples,
              std::string(std::string_view(comm) == "nginx" ? "http_server" : "http_client") +
                  "_response_body_size_bytes_sum",
              small_ok) == 10 * kSmallFile);
  }
  for (const char* event :
       {"joined_midstream", "unknown_fields", "framing_lost", "header_blocks_lost",
        "streams_dropped", "unanswered", "protocol_errors"}) {
    INFO(event);
    CHECK(Sum(run.scrape.samples, "netlens_http2_parser_events_total", {{"event", event}}) == 0);
  }
  CHECK(Select(run.scrape.samples, "netlens_rpc_server_duration_seconds_count", {}).empty());
}

TEST_CASE("http requests: HTTP/2 over TLS (h2) through OpenSSL, nginx's side",
          "[http][https][http2]") {
  const Http2Run run = RunHttp2(true);
  INFO("access log:\n" << Describe(run.server));
  CHECK(Describe(run.seen_server) == Describe(run.server));
  CHECK(Sum(run.scrape.samples, "netlens_http_connections_classified_total",
            {{"verdict", "http2"}}) >= 1);
  CHECK(Sum(run.scrape.samples, "netlens_http2_parser_events_total", {{"event", "framing_lost"}}) ==
        0);
}

}  // namespace
}  // namespace netlens::test
