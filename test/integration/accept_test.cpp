// Accept latency and listen-queue overflows: the test makes the wait and the drops it then
// finds in the metrics.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "expect.h"
#include "metric_names.h"
#include "netlens_process.h"
#include "netns.h"
#include "unique_fd.h"

namespace netlens::test {
namespace {

// A listener on 127.0.0.1, ephemeral port, with the given backlog.
UniqueFd Listen(int backlog, sockaddr_in& address) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM, 0));
  REQUIRE(fd.valid());
  address = {.sin_family = AF_INET, .sin_port = 0, .sin_addr = {htonl(INADDR_LOOPBACK)}};
  REQUIRE(bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  REQUIRE(listen(fd.get(), backlog) == 0);
  socklen_t size = sizeof(address);
  REQUIRE(getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &size) == 0);
  return fd;
}

UniqueFd Connect(const sockaddr_in& to, bool nonblocking) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | (nonblocking ? SOCK_NONBLOCK : 0), 0));
  REQUIRE(fd.valid());
  const int rc = connect(fd.get(), reinterpret_cast<const sockaddr*>(&to), sizeof(to));
  REQUIRE((rc == 0 || (nonblocking && errno == EINPROGRESS)));
  return fd;
}

TEST_CASE("accept: time from the accept queue to accept(), accept() and accept4()",
          "[latency][accept][accept-latency]") {
  NetlensProcess netlens("remote");
  constexpr int kConnections = 4;
  constexpr auto kWait = std::chrono::milliseconds(50);
  sockaddr_in address{};
  UniqueFd listener = Listen(16, address);
  std::vector<UniqueFd> keep;
  // Each sample lies between the wait as it really was (connect() returned -> accept()
  // called) and the whole span (connect() called -> accept() returned): a busy machine may
  // oversleep, so the bounds are measured, not assumed.
  std::vector<double> lower, upper;  // seconds
  using Clock = std::chrono::steady_clock;
  for (int i = 0; i < kConnections; ++i) {
    const auto connect_called = Clock::now();
    // connect() returns once the handshake is done: the connection waits in the accept queue.
    keep.push_back(Connect(address, false));
    const auto connect_returned = Clock::now();
    std::this_thread::sleep_for(kWait);
    const auto accept_called = Clock::now();
    // Raw syscalls, so both tracepoints are exercised whatever libc's accept() maps to.
    const long fd = i % 2 ? syscall(SYS_accept4, listener.get(), nullptr, nullptr, SOCK_CLOEXEC)
                          : syscall(SYS_accept, listener.get(), nullptr, nullptr);
    const auto accept_returned = Clock::now();
    REQUIRE(fd >= 0);
    keep.emplace_back(static_cast<int>(fd));
    lower.push_back(std::chrono::duration<double>(accept_called - connect_returned).count());
    upper.push_back(std::chrono::duration<double>(accept_returned - connect_called).count());
  }
  Scrape scrape = netlens.ScrapeMetrics();

  const Labels me{{"pid", std::to_string(getpid())},
                  {"direction", "passive"},
                  {"family", "ipv4"},
                  {"remote_address", "127.0.0.1"},
                  {"service_port", std::to_string(ntohs(address.sin_port))}};
  const std::string accept = std::string(metric::kTcpAcceptDurationSeconds);
  RequireSamplesWithin(scrape, accept, me, lower, upper);
  // 50 ms lies in (2^25 ns, 2^26 ns] = (33.6 ms, 67.1 ms]: nothing below it.
  REQUIRE(BucketAt(scrape, accept, me, 25) == 0);
  const double known_total = kConnections * std::chrono::duration<double>(kWait).count();
  REQUIRE(ValueOfOne(scrape.samples, accept + "_sum", me) >= known_total);
}

// The accept queue overflows are counted per network namespace (the kernel's TcpExt
// counters): netlens, the listener and the client run in a namespace of this test alone, so
// the count is exactly the SYNs sent here.
TEST_CASE("accept: listen-queue overflows, exactly the SYNs a full queue dropped",
          "[latency][accept]") {
  NetworkNamespace netns("overflow");
  EnterNetns inside(netns);
  NetlensProcess netlens("remote");
  Scrape before = netlens.ScrapeMetrics();
  RequireValue(before, metric::kTcpListenOverflowsTotal, {}, 0);
  RequireValue(before, metric::kTcpListenDropsTotal, {}, 0);

  sockaddr_in address{};
  UniqueFd listener = Listen(0, address);  // queue of one, never accepted
  UniqueFd queued = Connect(address, false);
  constexpr int kDropped = 5;
  std::vector<UniqueFd> dropped;
  for (int i = 0; i < kDropped; ++i) dropped.push_back(Connect(address, true));
  // Loopback delivers each SYN before connect() returns; closing well before the first SYN
  // retransmission (1 s) keeps it at one SYN, one drop, per connect.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  dropped.clear();

  Scrape scrape = netlens.ScrapeMetrics();
  RequireValue(scrape, metric::kTcpListenOverflowsTotal, {}, kDropped);
  RequireValue(scrape, metric::kTcpListenDropsTotal, {}, kDropped);
}

}  // namespace
}  // namespace netlens::test
