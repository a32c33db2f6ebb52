// RTT against `ss -ti`: a veth pair between two network namespaces made by the test, the
// client's side shaped with tbf, and netlens' RTT samples compared with the srtt the kernel
// reports to ss for the same connections.
#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "expect.h"
#include "metric_names.h"
#include "netlens_process.h"
#include "netns.h"
#include "subprocess.h"
#include "traffic_run.h"

namespace netlens::test {
namespace {

constexpr const char* kClientAddress = "10.231.0.1";
constexpr const char* kServerAddress = "10.231.0.2";

// Client port -> srtt in microseconds, from `ss -tinH` of established connections to `peer`.
std::map<uint16_t, uint64_t> SmoothedRttsOf(const std::string& peer) {
  const Output ss =
      Run({FindProgram("ss"), "-tinH", "state", "established", "dst", peer}, milliseconds(10000));
  INFO("ss output:\n" << ss.out << ss.err);
  REQUIRE(ss.status.Success());
  // A socket line ("0 0 10.231.0.1:PORT 10.231.0.2:PORT"), then its indented info line.
  const std::regex socket_line(R"(^\S*\s*\d+\s+\d+\s+[\d.]+:(\d+)\s+)");
  const std::regex rtt_field(R"(\brtt:([\d.]+)/)");
  std::map<uint16_t, uint64_t> rtts;
  std::istringstream lines(ss.out);
  int port = -1;  // of the socket line just read
  for (std::string line; std::getline(lines, line);) {
    std::smatch match;
    if (std::regex_search(line, match, socket_line) && !std::isspace(line[0])) {
      port = static_cast<int>(std::stoul(match[1]));
    } else if (port >= 0 && std::regex_search(line, match, rtt_field)) {
      // ss prints tcpi_rtt (srtt, whole microseconds) in ms with %g: exact below 1000 ms.
      rtts[static_cast<uint16_t>(port)] =
          static_cast<uint64_t>(std::llround(std::stod(match[1]) * 1000));
      port = -1;
    }
  }
  return rtts;
}

TEST_CASE("rtt: netlens' srtt samples equal ss -ti over a tbf-shaped veth pair", "[latency][rtt]") {
  NetworkNamespace client_ns("rttc");
  NetworkNamespace server_ns("rtts");
  client_ns.Ip({"link", "add", "veth-c", "type", "veth", "peer", "name", "veth-s", "netns",
                server_ns.name()});
  client_ns.Ip({"addr", "add", std::string(kClientAddress) + "/24", "dev", "veth-c"});
  server_ns.Ip({"addr", "add", std::string(kServerAddress) + "/24", "dev", "veth-s"});
  client_ns.Ip({"link", "set", "veth-c", "up"});
  server_ns.Ip({"link", "set", "veth-s", "up"});
  // The client's requests (200 kB) leave through a 10 Mbit/s token bucket: about 160 ms to
  // drain each, so the ACKs of later segments come back tens of ms after they were sent,
  // where an unshaped veth answers in tens of microseconds. The queue (limit) holds a whole
  // request, so nothing is dropped.
  RunOrThrow({"tc", "-n", client_ns.name(), "qdisc", "add", "dev", "veth-c", "root", "tbf", "rate",
              "10mbit", "burst", "16kb", "limit", "1mb"});

  NetlensProcess netlens("remote");
  TrafficOptions options{.comm = UniqueComm(),
                         .connections = 3,
                         .rounds = 1,
                         .request = 200000,
                         .response = 100,
                         .address = kServerAddress,
                         .server_netns = server_ns.name()};
  std::unique_ptr<HeldTraffic> traffic;
  std::map<uint16_t, uint64_t> ss_rtt_us;
  {
    EnterNetns inside(client_ns);  // nl-traffic's client and ss run in the client namespace
    traffic = std::make_unique<HeldTraffic>(options);
    ss_rtt_us = SmoothedRttsOf(kServerAddress);
  }
  const TrafficReport& report = traffic->report();
  REQUIRE(ss_rtt_us.size() == static_cast<size_t>(options.connections));
  // One client receive per connection: netlens sampled srtt once per connection, after the
  // last ACK the client will see (the server sends nothing more), so ss sees the same value.
  Scrape scrape = netlens.ScrapeMetrics();
  const Labels client{{"pid", std::to_string(report.client_pid)},
                      {"comm", options.comm},
                      {"direction", "active"},
                      {"family", "ipv4"},
                      {"remote_address", kServerAddress},
                      {"service_port", std::to_string(report.port)}};
  const std::string rtt = std::string(metric::kTcpRttSeconds);
  RequireValue(scrape, rtt + "_count", client, options.connections);
  uint64_t ss_sum_us = 0;
  for (const auto& [port, us] : ss_rtt_us) {
    INFO("client port " << port << ": ss rtt " << us << " us");
    REQUIRE(us >= 5000);  // the shaping is there: well above an unshaped veth's RTT
    ss_sum_us += us;
  }
  const double sum = ValueOfOne(scrape.samples, rtt + "_sum", client);
  INFO("netlens rtt sum " << sum << " s, ss sum " << ss_sum_us << " us");
  REQUIRE(std::fabs(sum - ss_sum_us * 1e-6) < 1e-9);
  // Each le bucket holds exactly the ss values below its bound (kernel buckets are [lo, hi)).
  for (int log2_ns = 10; log2_ns <= 36; ++log2_ns) {
    double below = 0;
    for (const auto& [port, us] : ss_rtt_us) below += us * 1000 < (uint64_t{1} << log2_ns);
    INFO("le = 2^" << log2_ns << " ns");
    REQUIRE(BucketAt(scrape, rtt, client, log2_ns) == below);
  }
  traffic->Close();
}

}  // namespace
}  // namespace netlens::test
