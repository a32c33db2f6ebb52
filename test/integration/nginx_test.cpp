// The real nginx (Debian's) and curl against netlens: nginx's own access log, $bytes_sent and
// $request_length summed over every request, is what netlens must count for nginx and, the other
// way round, for its clients, exactly; with sendfile on, keep-alive and one connection per
// request, under either accounting.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "expect.h"
#include "metric_names.h"
#include "netlens_process.h"
#include "nginx_child.h"
#include "ports.h"
#include "subprocess.h"
#include "temp_dir.h"

namespace netlens::test {
namespace {

using std::chrono::milliseconds;

// Sums of the access log's two fields, and its lines.
struct AccessLog {
  uint64_t bytes_sent = 0, request_length = 0, lines = 0;
};

AccessLog ReadAccessLog(const std::string& path) {
  AccessLog log;
  std::ifstream in(path);
  uint64_t sent = 0, length = 0;
  while (in >> sent >> length) {
    log.bytes_sent += sent;
    log.request_length += length;
    ++log.lines;
  }
  return log;
}

std::string NginxConfig(const TempDir& dir, uint16_t port) {
  std::ostringstream conf;
  conf << "daemon off;\nmaster_process on;\nworker_processes 2;\nuser root;\n"
       << "pid " << dir.PathOf("nginx.pid") << ";\nerror_log " << dir.PathOf("error.log")
       << ";\nevents { worker_connections 256; }\nhttp {\n"
       << "  log_format counts '$bytes_sent $request_length';\n"
       << "  access_log " << dir.PathOf("access.log") << " counts;\n"
       << "  sendfile on;\n  keepalive_requests 1000;\n"
       << "  server { listen 127.0.0.1:" << port << "; root " << dir.PathOf("www") << "; }\n}\n";
  return conf.str();
}

TEST_CASE("nginx: nginx's access log is what netlens counts, for nginx and its clients",
          "[nginx]") {
  TempDir dir;
  const uint16_t port = FreeLoopbackPort();
  REQUIRE(system(("mkdir -p " + dir.PathOf("www")).c_str()) == 0);
  dir.Write("www/small.txt", std::string(777, 's'));
  dir.Write("www/large.bin", std::string(300 * 1024 + 17, 'l'));  // sendfile, several segments
  const std::string conf = dir.Write("nginx.conf", NginxConfig(dir, port));

  NetlensProcess netlens("remote");
  const NginxChild nginx(dir, conf);
  const std::string base = "http://127.0.0.1:" + std::to_string(port) + "/";
  for (int i = 0; i < 100 && system(("curl -s -o /dev/null " + base).c_str()) != 0; ++i)
    std::this_thread::sleep_for(milliseconds(100));  // until nginx serves (this one counts too)

  // Keep-alive: 30 requests over one connection; then 10 with one connection each.
  std::vector<std::string> keep_alive = {"/usr/bin/curl", "-s", "-o", "/dev/null", "--http1.1"};
  std::vector<std::string> closing = {
      "/usr/bin/curl", "-s", "-o", "/dev/null", "--http1.1", "-H", "Connection: close"};
  for (int i = 0; i < 10; ++i) {
    for (const char* path : {"small.txt", "large.bin", "missing"})
      keep_alive.push_back(base + path + "?k=" + std::to_string(i));
    closing.push_back(base + (i % 2 ? "large.bin" : "small.txt") + "?c=" + std::to_string(i));
  }
  for (auto* argv : {&keep_alive, &closing}) {
    // curl writes each body to the -o given before it; one -o for all is enough for /dev/null.
    const Output output = Child(*argv, SpawnOptions{}).Communicate(milliseconds(60000));
    INFO(output.err);
    REQUIRE(output.status.Success());
  }

  // nginx closes its ends once curl has gone; then every count is final.
  const Labels server = {{"comm", "nginx"}, {"service_port", std::to_string(port)}};
  const Labels clients = {{"comm", "curl"}, {"service_port", std::to_string(port)}};
  Scrape scrape = netlens.ScrapeMetrics();
  for (int i = 0; i < 100 && (Sum(scrape.samples, metric::kConnectionsOpen, server) > 0 ||
                              Sum(scrape.samples, metric::kConnectionsOpen, clients) > 0);
       ++i) {
    std::this_thread::sleep_for(milliseconds(100));
    scrape = netlens.ScrapeMetrics();
  }
  const AccessLog log = ReadAccessLog(dir.PathOf("access.log"));
  INFO("access log: " << log.lines << " requests, $bytes_sent " << log.bytes_sent
                      << ", $request_length " << log.request_length);
  REQUIRE(log.lines >= 41);  // 30 + 10, and the readiness probes
  const double connections = Sum(scrape.samples, metric::kConnectionsClosed, clients);
  REQUIRE(connections >= 12);  // the keep-alive one, the 10 closing ones, the probes
  RequireValue(scrape, metric::kConnectionsClosed, server, connections, Match::kSum);
  RequireValue(scrape, metric::kSentBytes, server, log.bytes_sent, Match::kSum);
  RequireValue(scrape, metric::kReceivedBytes, server, log.request_length, Match::kSum);
  RequireValue(scrape, metric::kSentBytes, clients, log.request_length, Match::kSum);
  RequireValue(scrape, metric::kReceivedBytes, clients, log.bytes_sent, Match::kSum);
}

}  // namespace
}  // namespace netlens::test
