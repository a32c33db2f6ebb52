// The two accountings (config `accounting`): kernel (the default) reads the socket's own TCP
// counters and has nothing on the send/receive path; events counts every call. ctest runs every
// integration test under both (NETLENS_TEST_ACCOUNTING); these tests are about where they
// differ, with the numbers each must show.
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <set>
#include <string>
#include <thread>

#include "bpf_objects.h"
#include "expect.h"
#include "loopback_pair.h"
#include "metric_names.h"
#include "netlens_process.h"
#include "ports.h"
#include "unique_fd.h"

namespace netlens::test {
namespace {

// The hooks on the data path: per-event accounting's, never kernel accounting's.
const std::set<std::string> kDataPathHooks = {
    "sock:sock_send_length", "sock:sock_recv_length", "tcp_sendmsg",           "tcp_sendpage",
    "tcp_recvmsg",           "tcp_cleanup_rbuf",      "tcp:tcp_retransmit_skb"};

TEST_CASE("accounting: kernel attaches nothing to the send/receive path, events does",
          "[accounting]") {
  NetlensProcess netlens("process");
  const Scrape scrape = netlens.ScrapeMetrics();
  std::set<std::string> data_path_programs;
  for (const Sample* program : Select(scrape.samples, metric::kProgramAttached, {})) {
    INFO(Format(*program));
    if (program->value == 1 && kDataPathHooks.count(program->labels.at("hook")))
      data_path_programs.insert(program->labels.at("program"));
  }
  // What netlens holds in the kernel, by program name (the kernel keeps 15 characters).
  const std::map<uint32_t, std::string> loaded = LoadedPrograms();
  std::set<std::string> held;
  for (uint32_t id : BpfObjectsOf(netlens.pid()).programs) {
    if (loaded.count(id)) held.insert(loaded.at(id));
  }
  INFO("programs netlens holds: " << held.size());
  const bool counters = !Select(scrape.samples, metric::kHookAttachInfo,
                                {{"hook", "socket counters"}, {"mode", "scrape"}})
                             .empty();
  if (PerEventAccounting()) {
    REQUIRE_FALSE(counters);
    REQUIRE(data_path_programs.size() >= 2);  // a send and a receive program at least
    return;
  }
  REQUIRE(counters);
  REQUIRE(data_path_programs.empty());
  for (const std::string& name : held) {
    INFO("held: " << name);
    REQUIRE(name.rfind("nl_send", 0) != 0);
    REQUIRE(name.rfind("nl_recv", 0) != 0);
    REQUIRE(name.rfind("nl_cleanup", 0) != 0);
    REQUIRE(name.rfind("nl_retransmit", 0) != 0);
  }
  REQUIRE(held.count("nl_socket_count") == 1);  // nl_socket_counters_run, cut to 15
}

// Waits until fd has `bytes` queued to read.
void WaitQueued(int fd, int bytes) {
  int queued = 0;
  for (int i = 0; i < 200 && queued != bytes; ++i) {
    REQUIRE(ioctl(fd, FIONREAD, &queued) == 0);
    if (queued != bytes) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(queued == bytes);
}

TEST_CASE("accounting: data received but not read, then a reset, counted as documented",
          "[accounting]") {
  NetlensProcess netlens("remote");
  const uint16_t port = FreeLoopbackPort();
  UniqueFd listener(socket(AF_INET, SOCK_STREAM, 0));
  const int one = 1;
  REQUIRE(setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0);
  sockaddr_in address{
      .sin_family = AF_INET, .sin_port = htons(port), .sin_addr = {htonl(0x7f000001)}};
  REQUIRE(bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  REQUIRE(listen(listener.get(), 4) == 0);
  UniqueFd client(socket(AF_INET, SOCK_STREAM, 0));
  REQUIRE(connect(client.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  UniqueFd server(accept(listener.get(), nullptr, nullptr));
  REQUIRE(server.get() >= 0);

  // The client sends 10,000 bytes; the server reads 4,000 of them.
  constexpr int kSent = 10000, kRead = 4000;
  const std::string payload(kSent, 'x');
  REQUIRE(send(client.get(), payload.data(), payload.size(), 0) == kSent);
  WaitQueued(server.get(), kSent);
  std::string buffer(kRead, '\0');
  REQUIRE(recv(server.get(), buffer.data(), kRead, MSG_WAITALL) == kRead);
  WaitQueued(server.get(), kSent - kRead);

  // This process also scrapes netlens: the service port tells its connection apart.
  const std::string pid = std::to_string(getpid()), service_port = std::to_string(port);
  const Labels client_side = {
      {"pid", pid}, {"direction", "active"}, {"service_port", service_port}};
  const Labels server_side = {
      {"pid", pid}, {"direction", "passive"}, {"service_port", service_port}};
  // Kernel accounting counts what reached the socket, read or not; events what was read.
  const double received = PerEventAccounting() ? kRead : kSent;
  {
    INFO("both ends still open");
    const Scrape live = netlens.ScrapeMetrics();
    RequireValue(live, metric::kSentBytes, client_side, kSent);
    RequireValue(live, metric::kReceivedBytes, server_side, received);
  }

  // The client aborts (SO_LINGER 0: a RST, not a FIN); 6,000 bytes were never read.
  const linger abort_on_close{.l_onoff = 1, .l_linger = 0};
  REQUIRE(setsockopt(client.get(), SOL_SOCKET, SO_LINGER, &abort_on_close,
                     sizeof(abort_on_close)) == 0);
  client.Reset();
  int error = 0;
  socklen_t length = sizeof(error);
  REQUIRE(getsockopt(server.get(), SOL_SOCKET, SO_ERROR, &error, &length) == 0);
  REQUIRE(error == ECONNRESET);  // the RST arrived (loopback: within the client's close)
  server.Reset();
  Scrape closed = netlens.ScrapeMetrics();
  for (int i = 0; i < 50 && Sum(closed.samples, metric::kConnectionsClosed, client_side) < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    closed = netlens.ScrapeMetrics();
  }
  INFO("both ends closed");
  RequireValue(closed, metric::kSentBytes, client_side, kSent);
  RequireValue(closed, metric::kReceivedBytes, client_side, 0);
  RequireValue(closed, metric::kSentBytes, server_side, 0);
  RequireValue(closed, metric::kReceivedBytes, server_side, received);
  RequireConnections(closed, client_side, 1, 1);
  RequireConnections(closed, server_side, 1, 1);
}

}  // namespace
}  // namespace netlens::test

namespace netlens::test {
namespace {

TEST_CASE("accounting: a connection open before netlens started counts from the start, exactly",
          "[accounting]") {
  LoopbackPair pair = ConnectLoopbackPair();
  Transfer(pair.client.get(), pair.server.get(), 500);  // before netlens: not counted
  Transfer(pair.server.get(), pair.client.get(), 70);
  NetlensProcess netlens("connection");
  Transfer(pair.client.get(), pair.server.get(), 1234);
  Transfer(pair.server.get(), pair.client.get(), 99);

  const std::string pid = std::to_string(getpid());
  const std::string port = std::to_string(pair.port),
                    client_port = std::to_string(pair.client_port);
  // Who connected is not known of a connection found open: direction "unknown" both ends.
  const Labels client_end = {
      {"pid", pid}, {"direction", "unknown"}, {"local_port", client_port}, {"remote_port", port}};
  const Labels server_end = {
      {"pid", pid}, {"direction", "unknown"}, {"local_port", port}, {"remote_port", client_port}};
  const Scrape scrape = netlens.ScrapeMetrics();
  RequireValue(scrape, metric::kSentBytes, client_end, 1234);
  RequireValue(scrape, metric::kReceivedBytes, client_end, 99);
  RequireValue(scrape, metric::kSentBytes, server_end, 99);
  RequireValue(scrape, metric::kReceivedBytes, server_end, 1234);
  if (!PerEventAccounting()) {
    INFO("both ends were found at start-up");
    REQUIRE(ValueOfOne(scrape.samples, metric::kKernelAdoptedConnectionsTotal, {}) >= 2);
  }
}

}  // namespace
}  // namespace netlens::test
