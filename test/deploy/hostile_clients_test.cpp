// The /metrics endpoint under hostile clients: hundreds of idle and slow-header connections
// (plain and TLS) must not delay a scrape, are closed at their deadline and counted exactly by
// phase; connections beyond the per-peer and the total bound are closed at once and counted.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <thread>

#include "deploy_support.h"
#include "exposition.h"
#include "unique_fd.h"

namespace netlens::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kIdle = 200;
constexpr int kSlow = 50;
constexpr int kScrapes = 20;
constexpr auto kScrapeBound = 1s;
// The held connections' deadline (HeldConfig) and some slack.
constexpr auto kPastDeadline = 15s;
// Only this test's own traffic is watched: what other processes on a busy host do (thousands
// of series, tens of MB per scrape) would make each scrape slow whatever the HTTP server does.
std::string OnlyThisTest(const std::string& http) {
  return http + "targets:\n  include:\n    - pid: " + std::to_string(getpid()) + "\n";
}
// Long enough for 20 scrapes while every connection is held, short enough for a quick test.
std::string HeldConfig() {
  return OnlyThisTest(
      "http:\n  request_header_timeout: 8s\n  request_timeout: 10s\n"
      "  max_connections: 1000\n  max_connections_per_peer: 1000\n");
}

// A TCP connection to 127.0.0.1:port from `source` (any 127.0.0.0/8 address: one peer each),
// with a receive buffer of `receive_buffer` bytes if not 0.
UniqueFd Connect(uint16_t port, const char* source = "127.0.0.1", int receive_buffer = 0) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(fd.valid());
  if (receive_buffer != 0) {
    REQUIRE(setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer) ==
            0);
  }
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source, &from.sin_addr);
  REQUIRE(bind(fd.get(), reinterpret_cast<sockaddr*>(&from), sizeof from) == 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);
  return fd;
}

// Whether the server closed the connection (EOF or reset) within `wait`.
bool ClosedByServer(const UniqueFd& fd, std::chrono::milliseconds wait) {
  pollfd p{fd.get(), POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(wait.count())) != 1) return false;
  char byte;
  const ssize_t got = recv(fd.get(), &byte, 1, MSG_DONTWAIT);
  return got == 0 || (got < 0 && errno == ECONNRESET);
}

// Sends `request` one byte every 200 ms on each connection until stopped.
class SlowHeaders {
 public:
  explicit SlowHeaders(std::vector<UniqueFd>& fds) : fds_(fds), thread_([this] { Drip(); }) {}
  ~SlowHeaders() {
    stop_ = true;
    thread_.join();
  }

 private:
  void Drip() {
    const std::string request =
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: " + std::string(200, 's') +
        "\r\n\r\n";  // 250 bytes: 50 s at this pace, far past any deadline
    for (size_t i = 0; !stop_ && i < request.size(); ++i) {
      for (const UniqueFd& fd : fds_) send(fd.get(), &request[i], 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      for (int slice = 0; slice < 4 && !stop_; ++slice) std::this_thread::sleep_for(50ms);
    }
  }
  std::vector<UniqueFd>& fds_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

double Counter(const std::vector<Sample>& samples, const std::string& name, const Labels& labels) {
  return ValueOfOne(samples, name, labels);
}

// Every family a scrape must hold, the endpoint's own last: a cut-off body misses it.
void RequireComplete(const std::string& body, const std::vector<Sample>& samples) {
  for (const char* family :
       {"netlens_build_info", "netlens_program_attached", "netlens_scrape_duration_seconds",
        "exposer_scrapes_total", "netlens_http_connections_open",
        "netlens_http_connections_accepted_total", "netlens_http_connections_rejected_total"}) {
    INFO(family);
    CHECK(!Select(samples, family, {}).empty());
  }
  REQUIRE(Select(samples, "netlens_http_connections_timed_out_total", {}).size() == 4);
  CHECK(body.ends_with("netlens_http_connections_timed_out_total{phase=\"response_write\"} 0\n"));
}

// A scrape in a plain-HTTP or HTTPS way; `took` is the whole exchange, connect included.
struct Timed {
  Scrape scrape;
  Clock::duration took;
};

// GET /metrics over plain HTTP; `took` is the HTTP exchange alone, not the parsing after it.
Timed TimedScrape(uint16_t port) {
  const auto start = Clock::now();
  const HttpResponse response = HttpGet(port, "/metrics", 10s);
  const Clock::duration took = Clock::now() - start;
  REQUIRE(response.status == 200);
  return Timed{Scrape{response.body, ParseExposition(response.body), "GET /metrics"}, took};
}

// Scrapes until the endpoint shows `open` connections open (its own included), `wait` at most.
template <typename ScrapeFn>
void WaitUntilOpen(ScrapeFn scrape, double open, Clock::duration wait = 5s) {
  const auto deadline = Clock::now() + wait;
  double seen = -1;
  while (Clock::now() < deadline) {
    seen = Counter(scrape().scrape.samples, "netlens_http_connections_open", {});
    if (seen == open) return;
    std::this_thread::sleep_for(100ms);
  }
  FAIL("netlens_http_connections_open is " << seen << ", expected " << open);
}

// Scrapes kScrapes times while `held` connections are open: each within kScrapeBound, whole.
template <typename ScrapeFn>
void RequirePromptScrapes(ScrapeFn scrape, int held) {
  WaitUntilOpen(scrape, held + 1);
  Clock::duration slowest{};
  for (int i = 0; i < kScrapes; ++i) {
    INFO("scrape " << i);
    const Timed timed = scrape();
    slowest = std::max(slowest, timed.took);
    // netlens' own part of it: reading the maps and building the series.
    INFO("netlens_scrape_duration_seconds "
         << Sum(timed.scrape.samples, "netlens_scrape_duration_seconds", {}));
    CHECK(timed.took < kScrapeBound);
    RequireComplete(timed.scrape.body, timed.scrape.samples);
    CHECK(Counter(timed.scrape.samples, "netlens_http_connections_open", {}) == held + 1);
  }
  const double slowest_ms = std::chrono::duration<double, std::milli>(slowest).count();
  WARN("slowest of " << kScrapes << " scrapes with " << held << " connections held: " << slowest_ms
                     << " ms");
}

TEST_CASE("hostile clients: 200 idle and 50 slow-header connections do not delay scrapes",
          "[http][hostile]") {
  Daemon netlens({.aggregation = "process", .extra_config = HeldConfig()});
  INFO(netlens.Describe());
  const auto scrape = [&] { return TimedScrape(netlens.port()); };
  const std::vector<Sample> before = scrape().scrape.samples;
  const double accepted_before = Counter(before, "netlens_http_connections_accepted_total", {});

  std::vector<UniqueFd> idle, slow;
  for (int i = 0; i < kIdle; ++i) {
    idle.push_back(Connect(netlens.port()));
    // Half send nothing, half a partial request line.
    if (i % 2 == 1) send(idle.back().get(), "GET /metr", 9, MSG_NOSIGNAL);
  }
  for (int i = 0; i < kSlow; ++i) slow.push_back(Connect(netlens.port()));
  {
    const SlowHeaders drip(slow);
    RequirePromptScrapes(scrape, kIdle + kSlow);
    // Past the header deadline every held connection is closed by the server, and counted once.
    WaitUntilOpen(scrape, 1, kPastDeadline);
  }
  for (const auto* held : {&idle, &slow}) {
    for (const UniqueFd& fd : *held) CHECK(ClosedByServer(fd, 1s));
  }
  const std::vector<Sample> after = scrape().scrape.samples;
  const auto timed_out = [&](const char* phase) {
    return Counter(after, "netlens_http_connections_timed_out_total", {{"phase", phase}});
  };
  CHECK(timed_out("request_header") == kIdle + kSlow);
  CHECK(timed_out("tls_handshake") == 0);
  CHECK(timed_out("request") == 0);
  CHECK(timed_out("response_write") == 0);
  // The held connections, the 20 scrapes, and the scrapes that waited for them.
  CHECK(Counter(after, "netlens_http_connections_accepted_total", {}) - accepted_before >=
        kIdle + kSlow + kScrapes + 1);
  CHECK(Sum(after, "netlens_http_connections_rejected_total", {}) == 0);
  CHECK(netlens.Stop() == "exit code 0");
}

TEST_CASE(
    "hostile clients: 200 TLS connections that never send a ClientHello do not delay "
    "scrapes",
    "[http][hostile][tls]") {
  TempDir files;
  const Certificate cert = MakeCertificate(files, "server");
  const std::string web_config =
      files.Write("web.yml", "tls_server_config:\n  cert_file: " + cert.cert_file +
                                 "\n  key_file: " + cert.key_file + "\n");
  // HTTPS GET /metrics with curl: its exit status, the status code and the body.
  const auto curl = [&](uint16_t port) {
    const std::string body = files.PathOf("scrape.body");
    std::filesystem::remove(body);
    const Output output =
        Run({Tool("curl"), "-sS", "--max-time", "5", "--cacert", cert.cert_file, "-o", body, "-w",
             "%{http_code}", "https://127.0.0.1:" + std::to_string(port) + "/metrics"},
            10s);
    return std::make_pair(output, ReadFile(body));
  };
  Daemon netlens({.aggregation = "process",
                  .extra_config = HeldConfig(),
                  .extra_args = {"--web-config-file", web_config},
                  .serving = [&](uint16_t port) { return curl(port).first.out == "200"; }});
  INFO(netlens.Describe());
  const auto scrape = [&] {
    const auto start = Clock::now();
    const auto [output, body] = curl(netlens.port());
    const Clock::duration took = Clock::now() - start;
    INFO("curl: " << output.status.Describe() << " " << output.err);
    REQUIRE(output.out == "200");
    return Timed{Scrape{body, ParseExposition(body), "curl"}, took};
  };

  std::vector<UniqueFd> silent;
  for (int i = 0; i < kIdle; ++i) silent.push_back(Connect(netlens.port()));
  RequirePromptScrapes(scrape, kIdle);
  WaitUntilOpen(scrape, 1, kPastDeadline);
  for (const UniqueFd& fd : silent) CHECK(ClosedByServer(fd, 1s));
  const std::vector<Sample> after = scrape().scrape.samples;
  const auto timed_out = [&](const char* phase) {
    return Counter(after, "netlens_http_connections_timed_out_total", {{"phase", phase}});
  };
  CHECK(timed_out("tls_handshake") == kIdle);
  CHECK(timed_out("request_header") == 0);
  CHECK(timed_out("request") == 0);
  CHECK(timed_out("response_write") == 0);
  CHECK(netlens.Stop() == "exit code 0");
}

TEST_CASE("hostile clients: slow readers of a scrape are cut off at the request deadline",
          "[http][hostile]") {
  constexpr int kReaders = 5;
  // Connection pairs: about 2.8 KB of exposition each under per-event accounting (its call
  // counts make it larger), so the response (5.6 MB) is larger than the most a socket's send
  // buffer grows to (net.ipv4.tcp_wmem, 4 MiB by default).
  constexpr int kPadding = 2000;
  Daemon netlens({.aggregation = "connection",
                  .extra_config = OnlyThisTest("accounting: events\nhttp:\n"
                                               "  request_header_timeout: 1s\n"
                                               "  request_timeout: 2s\n")});
  INFO(netlens.Describe());
  const auto scrape = [&] { return TimedScrape(netlens.port()); };
  // The response must outgrow what the socket buffers take in while nobody reads: the test's
  // own connections, shown one series each, make it large.
  rlimit files{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &files) == 0);
  files.rlim_cur = files.rlim_max;
  REQUIRE(setrlimit(RLIMIT_NOFILE, &files) == 0);
  REQUIRE(files.rlim_cur > 2 * kPadding + 100);
  UniqueFd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in any{};
  any.sin_family = AF_INET;
  any.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof any;
  REQUIRE(bind(listener.get(), reinterpret_cast<sockaddr*>(&any), sizeof any) == 0);
  REQUIRE(listen(listener.get(), kPadding) == 0);
  REQUIRE(getsockname(listener.get(), reinterpret_cast<sockaddr*>(&any), &length) == 0);
  std::vector<UniqueFd> padding;
  for (int i = 0; i < kPadding; ++i) {
    padding.push_back(Connect(ntohs(any.sin_port)));
    padding.emplace_back(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    REQUIRE(padding.back().valid());
    // Traffic both ways, so that each is counted (and shown) with its bytes.
    char byte = 'x';
    for (int side : {2, 1}) {
      REQUIRE(send(padding[padding.size() - side].get(), &byte, 1, MSG_NOSIGNAL) == 1);
      REQUIRE(recv(padding[padding.size() - 3 + side].get(), &byte, 1, 0) == 1);
    }
  }
  REQUIRE(netlens.ScrapeMetrics().body.size() > 4'500'000);
  std::vector<UniqueFd> readers;
  const std::string request = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  for (int i = 0; i < kReaders; ++i) {
    // A receive window of a few KiB, never read from.
    UniqueFd fd = Connect(netlens.port(), "127.0.0.1", 1024);
    REQUIRE(send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(request.size()));
    readers.push_back(std::move(fd));
  }
  // Meanwhile scrapes are served, while the readers still hold their connections (a 5 MB
  // scrape: its time depends on the host more than on the server).
  const Timed during = scrape();
  RequireComplete(during.scrape.body, during.scrape.samples);
  CHECK(Counter(during.scrape.samples, "netlens_http_connections_open", {}) == kReaders + 1);
  CHECK(Counter(during.scrape.samples, "netlens_http_connections_timed_out_total",
                {{"phase", "response_write"}}) == 0);
  WaitUntilOpen(scrape, 1, kPastDeadline);
  const std::vector<Sample> after = scrape().scrape.samples;
  const auto timed_out = [&](const char* phase) {
    return Counter(after, "netlens_http_connections_timed_out_total", {{"phase", phase}});
  };
  CHECK(timed_out("response_write") == kReaders);
  CHECK(timed_out("request_header") == 0);
  CHECK(netlens.Stop() == "exit code 0");
}

TEST_CASE(
    "hostile clients: connections beyond the per-peer and total bounds are closed at once "
    "and counted",
    "[http][hostile]") {
  Daemon netlens({.aggregation = "process",
                  .extra_config = OnlyThisTest(
                      "http:\n  max_connections: 10\n  max_connections_per_peer: 4\n")});
  INFO(netlens.Describe());
  const auto rejected = [&](const char* reason) {
    return Counter(netlens.ScrapeMetrics().samples, "netlens_http_connections_rejected_total",
                   {{"reason", reason}});
  };
  const auto open = [&] {
    return Counter(netlens.ScrapeMetrics().samples, "netlens_http_connections_open", {});
  };
  std::vector<UniqueFd> held;
  for (int i = 0; i < 4; ++i) held.push_back(Connect(netlens.port(), "127.0.0.2"));
  std::this_thread::sleep_for(300ms);
  CHECK(open() == 4 + 1);  // the scrape comes from 127.0.0.1, another peer

  SECTION("per peer") {
    for (int i = 0; i < 3; ++i) {
      const UniqueFd extra = Connect(netlens.port(), "127.0.0.2");
      CHECK(ClosedByServer(extra, 1s));
    }
    // Those admitted stay open; another peer still gets in.
    for (const UniqueFd& fd : held) CHECK_FALSE(ClosedByServer(fd, 10ms));
    const UniqueFd other = Connect(netlens.port(), "127.0.0.3");
    CHECK_FALSE(ClosedByServer(other, 200ms));
    CHECK(rejected("per_peer_limit") == 3);
    CHECK(rejected("total_limit") == 0);
  }
  SECTION("total") {
    for (int i = 0; i < 4; ++i) held.push_back(Connect(netlens.port(), "127.0.0.3"));
    for (int i = 0; i < 2; ++i) held.push_back(Connect(netlens.port(), "127.0.0.4"));
    for (int i = 0; i < 5; ++i) {
      const UniqueFd extra = Connect(netlens.port(), "127.0.0.5");
      CHECK(ClosedByServer(extra, 1s));
    }
    for (const UniqueFd& fd : held) CHECK_FALSE(ClosedByServer(fd, 10ms));
    // Make room for the scrape itself: it would be turned away (and counted) at the bound.
    held.pop_back();
    held.pop_back();
    std::this_thread::sleep_for(1s);
    CHECK(rejected("total_limit") == 5);
    CHECK(rejected("per_peer_limit") == 0);
    CHECK(open() == 8 + 1);
  }
  CHECK(netlens.Stop() == "exit code 0");
}

}  // namespace
}  // namespace netlens::test
