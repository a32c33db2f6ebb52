// Latency histograms: the test makes the latency it measures, then checks counts exactly and
// where the samples landed.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cmath>
#include <string>

#include "expect.h"
#include "metric_names.h"
#include "netlens_process.h"
#include "ports.h"
#include "sides.h"
#include "unique_fd.h"

namespace netlens::test {
namespace {

TEST_CASE("latency: response time of a server that waits a known time, both roles", "[latency]") {
  NetlensProcess netlens("remote");
  constexpr int kDelayMs = 50;
  TrafficOptions options{.comm = UniqueComm(),
                         .connections = 2,
                         .rounds = 5,
                         .request = 200,
                         .response = 300,
                         .server_delay_ms = kDelayMs};
  TrafficReport report = RunTraffic(options);
  RequireHelperCalls(options, report);
  Scrape scrape = netlens.ScrapeMetrics();

  const double samples = options.connections * options.rounds;
  const double known_total = samples * kDelayMs / 1000.0;
  for (const Side& side : {ServerSide(options, report), ClientSide(options, report)}) {
    INFO("the " << side.role << " side");
    const Labels labels = RemoteLabels(side, options, report);
    const std::string response = std::string(metric::kTcpResponseTimeSeconds);
    if (!PerEventAccounting()) {
      // Response times come from the order of sends and receives: per-event accounting only.
      REQUIRE(Select(scrape.samples, response + "_count", {}).empty());
    } else {
      // 50 ms lies in (2^25 ns, 2^26 ns] = (33.6 ms, 67.1 ms]; the turns nl-traffic measured
      // bound each sample (a busy machine may oversleep into the next bucket).
      const auto& high =
          side.role == "server" ? report.server_turn_high_us : report.client_wait_high_us;
      REQUIRE(report.server_turn_low_us.size() == static_cast<size_t>(samples));
      REQUIRE(high.size() == static_cast<size_t>(samples));
      std::vector<double> lower, upper;
      for (size_t i = 0; i < high.size(); ++i) {
        lower.push_back(report.server_turn_low_us[i] * 1e-6);
        upper.push_back(high[i] * 1e-6);
      }
      RequireSamplesWithin(scrape, response, labels, lower, upper);
      REQUIRE(BucketAt(scrape, response, labels, 25) == 0);  // never under the delay
      const double sum = ValueOfOne(scrape.samples, response + "_sum", labels);
      INFO("response time sum " << sum << " s, known total " << known_total << " s");
      REQUIRE(sum >= known_total);
    }

    // Every connection closed after 5 rounds of at least 50 ms: lifetime >= 250 ms.
    const std::string lifetime = std::string(metric::kTcpConnectionDurationSeconds);
    RequireValue(scrape, lifetime + "_count", labels, options.connections);
    REQUIRE(BucketAt(scrape, lifetime, labels, 27) == 0);  // nothing under 134 ms
    REQUIRE(ValueOfOne(scrape.samples, lifetime + "_sum", labels) >=
            options.connections * options.rounds * kDelayMs / 1000.0);

    // srtt is sampled on the first receive of a connection (then every 16th: not reached), or
    // (kernel accounting) once at close and at each scrape while open: all closed before this
    // one scrape.
    RequireValue(scrape, std::string(metric::kTcpRttSeconds) + "_count", labels,
                 options.connections);
    REQUIRE(BucketAt(scrape, std::string(metric::kTcpRttSeconds), labels, 25) ==
            options.connections);
  }
  // Only the side that connected has a connect time; loopback connects in well under 33 ms.
  const Labels client = RemoteLabels(ClientSide(options, report), options, report);
  RequireValue(scrape, std::string(metric::kTcpConnectDurationSeconds) + "_count", client,
               options.connections);
  REQUIRE(BucketAt(scrape, std::string(metric::kTcpConnectDurationSeconds), client, 25) ==
          options.connections);
  RequireValue(scrape, std::string(metric::kTcpConnectDurationSeconds) + "_count",
               RemoteLabels(ServerSide(options, report), options, report), 0, Match::kSum);
}

// A blocking connect from this process; returns errno (0 on success).
int ConnectOnce(uint16_t port, int syn_retries) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM, 0));
  REQUIRE(fd.get() >= 0);
  if (syn_retries > 0)
    REQUIRE(setsockopt(fd.get(), IPPROTO_TCP, TCP_SYNCNT, &syn_retries, sizeof(syn_retries)) == 0);
  sockaddr_in to{.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = {htonl(0x7f000001)}};
  return connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof(to)) == 0 ? 0 : errno;
}

TEST_CASE("latency: failed connects are counted by reason", "[latency]") {
  NetlensProcess netlens("remote");
  const Labels me{{"pid", std::to_string(getpid())}, {"direction", "active"}};

  // Refused: nothing listens on the port, the SYN gets a RST.
  const uint16_t closed_port = FreeLoopbackPort();
  for (int i = 0; i < 3; ++i) REQUIRE(ConnectOnce(closed_port, 0) == ECONNREFUSED);

  // Timed out: a listener with a full accept queue drops SYNs; one retry, then ETIMEDOUT.
  UniqueFd listener(socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in any{.sin_family = AF_INET, .sin_port = 0, .sin_addr = {htonl(0x7f000001)}};
  REQUIRE(bind(listener.get(), reinterpret_cast<sockaddr*>(&any), sizeof(any)) == 0);
  REQUIRE(listen(listener.get(), 0) == 0);
  socklen_t size = sizeof(any);
  REQUIRE(getsockname(listener.get(), reinterpret_cast<sockaddr*>(&any), &size) == 0);
  const uint16_t full_port = ntohs(any.sin_port);
  UniqueFd queued(socket(AF_INET, SOCK_STREAM, 0));  // fills the queue of one
  REQUIRE(connect(queued.get(), reinterpret_cast<sockaddr*>(&any), sizeof(any)) == 0);
  REQUIRE(ConnectOnce(full_port, 1) == ETIMEDOUT);

  Scrape scrape = netlens.ScrapeMetrics();
  Labels refused = me;
  refused.insert({{"service_port", std::to_string(closed_port)}, {"reason", "refused"}});
  RequireValue(scrape, metric::kTcpConnectFailuresTotal, refused, 3);
  Labels timeout = me;
  timeout.insert({{"service_port", std::to_string(full_port)}, {"reason", "timeout"}});
  RequireValue(scrape, metric::kTcpConnectFailuresTotal, timeout, 1);
  Labels refused_port = me;
  refused_port.insert({"service_port", std::to_string(closed_port)});
  RequireValue(scrape, metric::kTcpConnectionsOpenedTotal, refused_port, 0, Match::kSum);
}

}  // namespace
}  // namespace netlens::test
