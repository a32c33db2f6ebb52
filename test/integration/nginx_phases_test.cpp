// nginx request phases (issue 17) from Debian's nginx, read at ngx_http_free_request by one
// uprobe: every request the access log records is counted per server and status, and the
// sums of $request_time, $request_length, $bytes_sent and of each upstream try's status,
// $upstream_connect_time, $upstream_header_time and $upstream_response_time equal the log's,
// to the millisecond and the byte. Static files, a missing file, return codes, a backend's
// 200/404/500 and a slow 200 (50 ms), a backend that refuses connections (502) and two servers.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <thread>
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

// Fields of the log_format below, '|'-separated.
constexpr const char* kLogFormat =
    "$server_port|$status|$request_time|$request_length|$bytes_sent|$upstream_addr|"
    "$upstream_status|$upstream_connect_time|$upstream_header_time|$upstream_response_time";

std::vector<std::string> Split(const std::string& text, const std::string& separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t at; (at = text.find(separator, start)) != std::string::npos; start = at + 1)
    parts.push_back(text.substr(start, at - start));
  parts.push_back(text.substr(start));
  return parts;
}

// An upstream variable with one value per try: "a, b" (tries of one group), "a : b" (groups).
std::vector<std::string> Tries(const std::string& value) {
  std::vector<std::string> tries;
  std::string current;
  for (const std::string& piece : Split(value, " ")) {
    if (piece == ":" || piece.empty()) continue;
    tries.push_back(piece.back() == ',' ? piece.substr(0, piece.size() - 1) : piece);
  }
  return tries;
}

// What the log says, in the series' keys.
struct Expected {
  std::map<std::string, double> requests;        // "server status" -> requests
  std::map<std::string, double> request_ms;      // "server status" -> sum of $request_time (ms)
  std::map<std::string, double> request_bytes;   // $request_length
  std::map<std::string, double> response_bytes;  // $bytes_sent
  std::map<std::string, double> tries;           // "server upstream status" -> tries
  // "phase server upstream status" -> {observations, ms}
  std::map<std::string, std::pair<double, double>> phases;
};

long Millis(const std::string& seconds) { return std::lround(std::stod(seconds) * 1000); }

Expected ReadLog(const std::string& path) {
  Expected expected;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    const std::vector<std::string> f = Split(line, "|");
    REQUIRE(f.size() == 10);
    const std::string server = "127.0.0.1:" + f[0];
    const std::string key = server + " " + f[1];
    expected.requests[key] += 1;
    expected.request_ms[key] += Millis(f[2]);
    expected.request_bytes[key] += std::stod(f[3]);
    expected.response_bytes[key] += std::stod(f[4]);
    if (f[5] == "-") continue;
    const std::vector<std::string> peers = Tries(f[5]), statuses = Tries(f[6]);
    const std::vector<std::string> times[3] = {Tries(f[7]), Tries(f[8]), Tries(f[9])};
    REQUIRE(peers.size() == statuses.size());
    for (size_t i = 0; i < peers.size(); ++i) {
      const std::string status = statuses[i] == "-" ? "none" : statuses[i];
      const std::string try_key = server + " " + peers[i] + " " + status;
      expected.tries[try_key] += 1;
      const char* names[3] = {"connect", "header", "response"};
      for (int p = 0; p < 3; ++p) {
        REQUIRE(times[p].size() == peers.size());
        if (times[p][i] == "-") continue;
        auto& [count, ms] = expected.phases[std::string(names[p]) + " " + try_key];
        count += 1;
        ms += Millis(times[p][i]);
      }
    }
  }
  return expected;
}

std::string Describe(const std::map<std::string, double>& values) {
  std::ostringstream out;
  for (const auto& [key, value] : values) out << key << ": " << std::llround(value) << "\n";
  return out.str();
}

// nginx.conf up to the http block's servers: nginx in the foreground, its files in dir, the
// access log in kLogFormat.
std::string NginxConfHead(const TempDir& dir, int workers, int connections) {
  return "daemon off;\nmaster_process on;\nworker_processes " + std::to_string(workers) +
         ";\nuser root;\npid " + dir.PathOf("nginx.pid") + ";\nerror_log " +
         dir.PathOf("error.log") + ";\nevents { worker_connections " + std::to_string(connections) +
         "; }\nhttp {\n  log_format phases '" + kLogFormat + "';\n  access_log " +
         dir.PathOf("access.log") + " phases;\n";
}

// The same sums from a scrape.
Expected FromScrape(const Scrape& scrape) {
  Expected seen;
  const auto request_key = [](const Sample* s) {
    return s->labels.at("server") + " " + s->labels.at("http_response_status_code");
  };
  for (const Sample* s : Select(scrape.samples, "netlens_nginx_request_duration_seconds_count", {}))
    seen.requests[request_key(s)] += s->value;
  for (const Sample* s : Select(scrape.samples, "netlens_nginx_request_duration_seconds_sum", {}))
    seen.request_ms[request_key(s)] += s->value * 1000;
  for (const Sample* s : Select(scrape.samples, "netlens_nginx_request_size_bytes_total", {}))
    seen.request_bytes[request_key(s)] += s->value;
  for (const Sample* s : Select(scrape.samples, "netlens_nginx_response_size_bytes_total", {}))
    seen.response_bytes[request_key(s)] += s->value;
  const auto try_key = [](const Sample* s) {
    return s->labels.at("server") + " " + s->labels.at("upstream") + " " +
           s->labels.at("upstream_status");
  };
  for (const Sample* s : Select(scrape.samples, "netlens_nginx_upstream_tries_total", {}))
    seen.tries[try_key(s)] += s->value;
  for (const char* phase : {"connect", "header", "response"}) {
    const std::string family = std::string("netlens_nginx_upstream_") + phase + "_duration_seconds";
    for (const Sample* s : Select(scrape.samples, family + "_count", {}))
      if (s->value > 0) seen.phases[std::string(phase) + " " + try_key(s)].first += s->value;
    for (const Sample* s : Select(scrape.samples, family + "_sum", {}))
      if (s->value > 0)
        seen.phases[std::string(phase) + " " + try_key(s)].second += s->value * 1000;
  }
  return seen;
}

std::string Describe(const std::map<std::string, std::pair<double, double>>& phases) {
  std::ostringstream out;
  for (const auto& [key, value] : phases)
    out << key << ": " << std::llround(value.first) << " tries, " << std::llround(value.second)
        << " ms\n";
  return out.str();
}

// The log once it holds `lines` requests (nginx writes a line in the log phase, right after
// the probe), within 10 s.
Expected WaitForLog(const std::string& path, double lines) {
  Expected expected;
  for (int i = 0; i < 100; ++i) {
    expected = ReadLog(path);
    double total = 0;
    for (const auto& [key, value] : expected.requests) total += value;
    if (total >= lines) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  return expected;
}

// Scrapes until the request counts are the log's (5 s at most); every sum must then equal it.
Scrape CheckAgainstLog(NetlensProcess& netlens, const Expected& expected) {
  Scrape scrape;
  Expected seen;
  for (int i = 0; i < 50; ++i) {
    scrape = netlens.ScrapeMetrics();
    seen = FromScrape(scrape);
    if (Describe(seen.requests) == Describe(expected.requests)) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  INFO(netlens.Report());
  CHECK(Describe(seen.requests) == Describe(expected.requests));
  CHECK(Describe(seen.request_ms) == Describe(expected.request_ms));
  CHECK(Describe(seen.request_bytes) == Describe(expected.request_bytes));
  CHECK(Describe(seen.response_bytes) == Describe(expected.response_bytes));
  CHECK(Describe(seen.tries) == Describe(expected.tries));
  CHECK(Describe(seen.phases) == Describe(expected.phases));
  CHECK(Sum(scrape.samples, "netlens_nginx_lost_requests_total", {}) == 0);
  return scrape;
}

TEST_CASE("nginx phases: nginx's own timers and sizes, as its access log prints them",
          "[nginx_phases]") {
  TempDir dir;
  const uint16_t port = FreeLoopbackPort();
  const uint16_t second_port = FreeLoopbackPort();
  const uint16_t backend_port = FreeLoopbackPort();
  const uint16_t refused_port = FreeLoopbackPort();  // nothing listens there
  const uint16_t refused_too = FreeLoopbackPort();   // nor there
  REQUIRE(system(("mkdir -p " + dir.PathOf("www/static")).c_str()) == 0);
  dir.Write("www/index.html", "hello\n");
  dir.Write("www/static/small.txt", std::string(777, 's'));
  std::ostringstream conf;
  conf << NginxConfHead(dir, 2, 256) << "  upstream backend { server 127.0.0.1:" << backend_port
       << "; keepalive 4; }\n"
       // Two servers that refuse: two tries per request ("502, 502"), then 502; never marked
       // down (max_fails=0), so every request tries both.
       << "  upstream refusing { server 127.0.0.1:" << refused_port
       << " max_fails=0; server 127.0.0.1:" << refused_too << " max_fails=0; }\n"
       << "  server {\n    listen 127.0.0.1:" << port << ";\n    root " << dir.PathOf("www")
       << ";\n    location /b/ {\n      proxy_pass http://backend;\n"
       << "      proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n    }\n"
       << "    location /refused/ { proxy_pass http://refusing; }\n"
       // The backend without a keepalive pool: a connection per request.
       << "    location /direct/ { proxy_pass http://127.0.0.1:" << backend_port << "/b/; }\n"
       << "    location = /teapot { return 418; }\n  }\n"
       << "  server {\n    listen 127.0.0.1:" << second_port
       << ";\n    location / { return 204; }\n  }\n}\n";
  const std::string conf_path = dir.Write("nginx.conf", conf.str());

  HttpPeersBackend backend(backend_port);
  // nginx first: netlens probes the nginx binaries running when it starts (and, with
  // uprobe_multi, those it finds later).
  const NginxChild nginx(dir, conf_path);
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  for (int i = 0; i < 100 && system(("curl -s -o /dev/null " + base + "/").c_str()) != 0; ++i)
    std::this_thread::sleep_for(milliseconds(100));
  NetlensProcess netlens("process", {},
                         "nginx_phases:\n  processes:\n    include:\n      - comm: nginx\n"
                         "  routes: [\"/static/{file...}\", \"/b/{name}\"]\n");
  {
    const Scrape scrape = netlens.ScrapeMetrics();
    INFO(netlens.Report());
    REQUIRE(Sum(scrape.samples, "netlens_nginx_binaries",
                {{"build", "builds/nginx-1.22.1-debian12-amd64.yaml"}, {"version", "1.22.1"}}) ==
            1);
    // At the build's probe site, not the function's entry (daemon/nginx/builds/README.md).
    REQUIRE(netlens.Log().find("at ngx_http_free_request+183, its build's probe site") !=
            std::string::npos);
  }
  // The requests before netlens probed are in the log too: start the log afresh.
  REQUIRE(truncate(dir.PathOf("access.log").c_str(), 0) == 0);

  std::vector<std::string> argv = {"/usr/bin/curl", "-s", "--http1.1"};
  const auto get = [&](const std::string& url, int times) {
    for (int i = 0; i < times; ++i)
      argv.insert(argv.end(), {"-o", "/dev/null", url + "?i=" + std::to_string(i)});
  };
  get(base + "/static/small.txt", 7);
  get(base + "/static/missing.txt", 3);
  get(base + "/teapot", 2);
  get(base + "/b/ok", 5);
  get(base + "/b/missing", 2);
  get(base + "/b/fail", 1);
  get(base + "/b/slow", 3);  // 50 ms each: $request_time and $upstream_header_time are not 0
  get(base + "/refused/x", 2);
  get(base + "/direct/ok", 3);
  get(base + "/direct/slow", 2);
  get("http://127.0.0.1:" + std::to_string(second_port) + "/anything", 4);
  const Output output = Child(argv, SpawnOptions{}).Communicate(milliseconds(60000));
  INFO(output.err);
  REQUIRE(output.status.Success());
  // A POST with a body: $request_length counts it.
  REQUIRE(Child({"/usr/bin/curl", "-s", "--http1.1", "-o", "/dev/null", "--data-binary",
                 std::string(1234, 'p'), base + "/b/created"},
                SpawnOptions{})
              .Communicate(milliseconds(60000))
              .status.Success());

  // nginx writes the log line in the log phase, right after the probe: wait for all 35.
  Expected expected = WaitForLog(dir.PathOf("access.log"), 35);
  INFO("access log:\n" << Describe(expected.requests) << Describe(expected.tries));
  const std::string server = "127.0.0.1:" + std::to_string(port);
  REQUIRE(expected.requests[server + " 200"] == 7 + 5 + 3 + 3 + 2);
  REQUIRE(expected.request_ms[server + " 200"] >= 5 * 50);
  REQUIRE(expected.tries[server + " 127.0.0.1:" + std::to_string(refused_port) + " 502"] == 2);
  REQUIRE(expected.tries[server + " 127.0.0.1:" + std::to_string(refused_too) + " 502"] == 2);
  REQUIRE(expected.requests["127.0.0.1:" + std::to_string(port) + " 502"] == 2);
  REQUIRE(expected.requests["127.0.0.1:" + std::to_string(second_port) + " 204"] == 4);

  const Scrape scrape = CheckAgainstLog(netlens, expected);
  INFO(netlens.Report());
  // Routes: the patterns, and never the query string.
  CHECK(Sum(scrape.samples, "netlens_nginx_request_duration_seconds_count",
            {{"http_route", "/static/{file...}"}, {"http_response_status_code", "200"}}) == 7);
  CHECK(Sum(scrape.samples, "netlens_nginx_request_duration_seconds_count",
            {{"http_route", "/b/{name}"}, {"http_request_method", "POST"}}) == 1);
  CHECK(Sum(scrape.samples, "netlens_nginx_upstream_tries_not_copied_total", {}) == 0);
  backend.Stop();
}

// HTTP/2 downstream (h2c with prior knowledge; nghttp multiplexing the requests as concurrent
// streams of one connection; curl 7.88 fails the second request on a reused h2c connection): nginx
// frees each stream's request through ngx_http_free_request, so each is one probe hit, with the log
// line's own values.
TEST_CASE("nginx phases: HTTP/2 streams, as the access log prints them", "[nginx_phases]") {
  TempDir dir;
  const uint16_t port = FreeLoopbackPort();
  const uint16_t backend_port = FreeLoopbackPort();
  REQUIRE(system(("mkdir -p " + dir.PathOf("www/static")).c_str()) == 0);
  dir.Write("www/static/small.txt", std::string(777, 's'));
  std::ostringstream conf;
  conf << NginxConfHead(dir, 1, 256) << "  upstream backend { server 127.0.0.1:" << backend_port
       << "; keepalive 4; }\n"
       << "  server {\n    listen 127.0.0.1:" << port << " http2;\n    root " << dir.PathOf("www")
       << ";\n    location /b/ {\n      proxy_pass http://backend;\n"
       << "      proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n    }\n"
       << "    location = /teapot { return 418; }\n  }\n}\n";
  const std::string conf_path = dir.Write("nginx.conf", conf.str());
  HttpPeersBackend backend(backend_port);
  const NginxChild nginx(dir, conf_path);
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  const std::string probe = "/usr/bin/nghttp -n " + base + "/teapot > /dev/null";
  for (int i = 0; i < 100 && system(probe.c_str()) != 0; ++i)
    std::this_thread::sleep_for(milliseconds(100));
  NetlensProcess netlens("process", {},
                         "nginx_phases:\n  processes:\n    include:\n      - comm: nginx\n"
                         "  routes: [\"/static/{file...}\", \"/b/{name}\"]\n");
  REQUIRE(Sum(netlens.ScrapeMetrics().samples, "netlens_nginx_binaries",
              {{"build", "builds/nginx-1.22.1-debian12-amd64.yaml"}}) == 1);
  REQUIRE(truncate(dir.PathOf("access.log").c_str(), 0) == 0);

  std::vector<std::string> argv = {"/usr/bin/nghttp", "-n"};
  const auto get = [&](const std::string& path, int times) {
    for (int i = 0; i < times; ++i) argv.push_back(base + path + "?i=" + std::to_string(i));
  };
  get("/static/small.txt", 5);
  get("/static/missing.txt", 3);
  get("/teapot", 2);
  get("/b/ok", 4);
  get("/b/slow", 2);
  const Output output = Child(argv, SpawnOptions{}).Communicate(milliseconds(60000));
  INFO(output.err);
  REQUIRE(output.status.Success());

  Expected expected = WaitForLog(dir.PathOf("access.log"), 16);
  INFO("access log:\n" << Describe(expected.requests) << Describe(expected.tries));
  const std::string server = "127.0.0.1:" + std::to_string(port);
  REQUIRE(expected.requests[server + " 200"] == 5 + 4 + 2);
  REQUIRE(expected.requests[server + " 404"] == 3);
  REQUIRE(expected.requests[server + " 418"] == 2);

  CheckAgainstLog(netlens, expected);
  backend.Stop();
}

// A build whose probe site's bytes are not the binary's (here: Debian's own table, given in the
// config with one byte of the site changed, so that it is the build that matches): named in the
// log, and probed at the function's entry, where r and rc are the arguments and the status is
// finished as ngx_http_free_request does; every count and sum is still the access log's.
TEST_CASE("nginx phases: a probe site that is not the binary's falls back to the entry",
          "[nginx_phases]") {
  std::ifstream table(std::string(NL_NGINX_BUILDS_DIR) + "/nginx-1.22.1-debian12-amd64.yaml");
  std::string builds;
  for (std::string line; std::getline(table, line);)
    if (!line.starts_with("#") && !line.starts_with("  #")) builds += "    " + line + "\n";
  const std::string site = "\"0f 84 d7 00 00 00\"";
  REQUIRE(builds.find(site) != std::string::npos);
  builds.replace(builds.find(site), site.size(), "\"0f 85 d7 00 00 00\"");
  TempDir dir;
  const uint16_t port = FreeLoopbackPort();
  REQUIRE(system(("mkdir -p " + dir.PathOf("www")).c_str()) == 0);
  dir.Write("www/index.html", "hello\n");
  std::ostringstream conf;
  conf << NginxConfHead(dir, 1, 64) << "  server {\n    listen 127.0.0.1:" << port << ";\n    root "
       << dir.PathOf("www") << ";\n    location = /teapot { return 418; }\n  }\n}\n";
  const std::string conf_path = dir.Write("nginx.conf", conf.str());
  const NginxChild nginx(dir, conf_path);
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  for (int i = 0; i < 100 && system(("curl -s -o /dev/null " + base + "/").c_str()) != 0; ++i)
    std::this_thread::sleep_for(milliseconds(100));
  NetlensProcess netlens(
      "process", {},
      "nginx_phases:\n  processes:\n    include:\n      - comm: nginx\n  builds:\n" + builds);
  {
    const Scrape scrape = netlens.ScrapeMetrics();
    INFO(netlens.Report());
    REQUIRE(Sum(scrape.samples, "netlens_nginx_binaries",
                {{"version", "1.22.1"}, {"path", "/usr/sbin/nginx"}}) == 1);
    REQUIRE(netlens.Log().find("are not those of its build's probe site") != std::string::npos);
  }
  REQUIRE(truncate(dir.PathOf("access.log").c_str(), 0) == 0);
  std::vector<std::string> argv = {"/usr/bin/curl", "-s", "--http1.1"};
  for (const auto& [path, times] : {std::pair{"/", 4}, {"/missing", 3}, {"/teapot", 2}})
    for (int i = 0; i < times; ++i)
      argv.insert(argv.end(), {"-o", "/dev/null", base + path + "?i=" + std::to_string(i)});
  REQUIRE(Child(argv, SpawnOptions{}).Communicate(milliseconds(60000)).status.Success());
  Expected expected = WaitForLog(dir.PathOf("access.log"), 9);
  INFO("access log:\n" << Describe(expected.requests));
  const std::string server = "127.0.0.1:" + std::to_string(port);
  REQUIRE(expected.requests[server + " 200"] == 4);
  REQUIRE(expected.requests[server + " 404"] == 3);
  REQUIRE(expected.requests[server + " 418"] == 2);
  CheckAgainstLog(netlens, expected);
}

// The module signature of a copy of Debian's nginx changed by one byte: a build netlens has no
// offsets for. It is named in the log and in netlens_nginx_binaries, and never probed: its
// requests give no series, while the known binary beside it is probed.
TEST_CASE("nginx phases: an unknown nginx build is named and never probed", "[nginx_phases]") {
  TempDir dir;
  std::ifstream in("/usr/sbin/nginx", std::ios::binary);
  std::string image((std::istreambuf_iterator<char>(in)), {});
  const std::string signature = "8,4,8,0011111111010111001111111111111111";
  const size_t at = image.find(signature + '\0');
  REQUIRE(at != std::string::npos);
  image[at + signature.size() - 1] = '0';
  const std::string copy = dir.Write("nginx", image);
  REQUIRE(chmod(copy.c_str(), 0755) == 0);
  const uint16_t port = FreeLoopbackPort();
  std::ostringstream conf;
  conf << "daemon off;\nmaster_process on;\nworker_processes 1;\nuser root;\n"
       << "pid " << dir.PathOf("nginx.pid") << ";\nerror_log " << dir.PathOf("error.log")
       << ";\nevents { worker_connections 64; }\nhttp {\n  access_log off;\n"
       << "  server {\n    listen 127.0.0.1:" << port
       << ";\n    location / { return 204; }\n  }\n}\n";
  const std::string conf_path = dir.Write("nginx.conf", conf.str());
  Child nginx({copy, "-p", dir.path(), "-c", conf_path, "-e", dir.PathOf("error.log")},
              SpawnOptions{.output_file = dir.PathOf("nginx.out")});
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
  for (int i = 0; i < 100 && system(("curl -s -o /dev/null " + url).c_str()) != 0; ++i)
    std::this_thread::sleep_for(milliseconds(100));
  NetlensProcess netlens("process", {},
                         "nginx_phases:\n  processes:\n    include:\n      - comm: nginx\n");
  for (int i = 0; i < 5; ++i) REQUIRE(system(("curl -s -o /dev/null " + url).c_str()) == 0);
  const Scrape scrape = netlens.ScrapeMetrics();
  INFO(netlens.Report());
  CHECK(Sum(scrape.samples, "netlens_nginx_binaries",
            {{"path", copy}, {"version", "1.22.1"}, {"build", "unknown"}}) == 1);
  CHECK(Select(scrape.samples, "netlens_nginx_request_duration_seconds_count", {}).empty());
  CHECK(Sum(scrape.samples, "netlens_nginx_requests_read_total", {}) == 0);
  CHECK(netlens.Log().find("a build whose struct offsets netlens does not know: not probed") !=
        std::string::npos);
  nginx.Signal(SIGQUIT);
  CHECK(nginx.WaitFor(milliseconds(10000)).has_value());
}

}  // namespace
}  // namespace netlens::test
