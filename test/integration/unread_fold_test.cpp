// The ways a connection closes that netlens' close() run does not see (ebpf/tcp/conn_track.bpf.h:
// "Folds that carry no counters"): each counted exactly, and the folds that cannot read the
// socket's counters counted in netlens_kernel_unread_folds_total.
#include <bpf/bpf.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <tuple>

#include "bpf_objects.h"
#include "ebpf/tcp/tcp.h"
#include "expect.h"
#include "loopback_pair.h"
#include "metric_names.h"
#include "netlens_process.h"
#include "traffic_run.h"

namespace netlens::test {
namespace {

// Scrapes until the series of labels shows `closed` closed connections (5 s at most).
Scrape ScrapeOnceClosed(const NetlensProcess& netlens, const Labels& labels, double closed) {
  Scrape scrape = netlens.ScrapeMetrics();
  for (int i = 0; i < 50 && Sum(scrape.samples, metric::kConnectionsClosed, labels) < closed; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    scrape = netlens.ScrapeMetrics();
  }
  return scrape;
}

// One end of a connection this process made: its process, direction and service port.
Labels End(pid_t pid, std::string_view direction, uint16_t service_port) {
  return {{"pid", std::to_string(pid)},
          {"direction", std::string(direction)},
          {"service_port", std::to_string(service_port)}};
}

void RequireEnd(const Scrape& scrape, const Labels& end, double sent, double received) {
  INFO("the " << end.at("direction") << " end");
  // kSum: a 0 of per-event accounting has no series.
  RequireValue(scrape, metric::kSentBytes, end, sent, Match::kSum);
  RequireValue(scrape, metric::kReceivedBytes, end, received, Match::kSum);
  RequireConnections(scrape, end, 1, 1);
}

TEST_CASE("unread folds: a process that exits without close() is counted exactly", "[unread]") {
  NetlensProcess netlens("remote");
  Listener listener = ListenOnLoopback();
  const std::string comm = UniqueComm();
  constexpr size_t kRequest = 1500, kResponse = 700;
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The client: connects, sends, reads the response and exits; the kernel closes its socket.
    prctl(PR_SET_NAME, comm.c_str());
    UniqueFd fd(socket(AF_INET, SOCK_STREAM, 0));
    sockaddr_in address{
        .sin_family = AF_INET, .sin_port = htons(listener.port), .sin_addr = {htonl(0x7f000001)}};
    if (connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) _exit(1);
    const std::string request(kRequest, 'c');
    if (send(fd.get(), request.data(), request.size(), 0) != static_cast<ssize_t>(kRequest))
      _exit(2);
    std::string response(kResponse, '\0');
    if (recv(fd.get(), response.data(), kResponse, MSG_WAITALL) != static_cast<ssize_t>(kResponse))
      _exit(3);
    _exit(0);  // no close(), no destructor
  }
  UniqueFd server(accept(listener.fd.get(), nullptr, nullptr));
  REQUIRE(server.get() >= 0);
  std::string request(kRequest, '\0');
  REQUIRE(recv(server.get(), request.data(), kRequest, MSG_WAITALL) ==
          static_cast<ssize_t>(kRequest));
  SendBytes(server.get(), kResponse);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  char byte = 0;
  REQUIRE(recv(server.get(), &byte, 1, 0) == 0);  // the FIN of the child's exit
  server.Reset();

  const Labels client_end = End(child, metric::kActive, listener.port);
  const Labels server_end = End(getpid(), metric::kPassive, listener.port);
  const Scrape scrape = ScrapeOnceClosed(netlens, client_end, 1);
  RequireEnd(scrape, client_end, kRequest, kResponse);
  RequireEnd(scrape, server_end, kResponse, kRequest);
  RequireValue(scrape, metric::kConnectionsOpened, {{"comm", comm}}, 1, Match::kSum);
}

TEST_CASE("unread folds: a connection reset before accept() is counted exactly", "[unread]") {
  NetlensProcess netlens("remote");
  Listener listener = ListenOnLoopback();
  constexpr size_t kSent = 1234;
  uint16_t client_port = 0;
  UniqueFd client = ConnectToLoopback(listener.port, &client_port);
  SendBytes(client.get(), kSent);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // loopback: there already
  // Kernel accounting counts what reached the socket; per-event accounting what was read.
  const double received = PerEventAccounting() ? 0 : kSent;

  SECTION("the client aborts (a RST), then the server accepts and closes it") {
    Abort(client);
    UniqueFd server(accept(listener.fd.get(), nullptr, nullptr));
    REQUIRE(server.get() >= 0);  // the reset connection, in CLOSE
    server.Reset();
  }
  SECTION("the listener closes with the connection never accepted") {
    listener.fd.Reset();  // the kernel disconnects it (a RST to the client)
    char byte = 0;
    REQUIRE(recv(client.get(), &byte, 1, 0) < 0);
    REQUIRE(errno == ECONNRESET);
    client.Reset();
  }
  const Labels client_end = End(getpid(), metric::kActive, listener.port);
  const Labels server_end = End(getpid(), metric::kPassive, listener.port);
  const Scrape scrape = ScrapeOnceClosed(netlens, server_end, 1);
  RequireEnd(scrape, client_end, kSent, 0);
  RequireEnd(scrape, server_end, 0, received);
}

// The daemon's tcp_conns map, opened by id from the maps it holds.
UniqueFd ConnsMapOf(pid_t netlens) {
  for (uint32_t id : BpfObjectsOf(netlens).maps) {
    UniqueFd fd(bpf_map_get_fd_by_id(id));
    if (!fd.valid()) continue;
    bpf_map_info info{};
    uint32_t length = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd.get(), &info, &length) == 0 &&
        std::strcmp(info.name, "tcp_conns") == 0)
      return fd;
  }
  FAIL("netlens holds no tcp_conns map");
  return {};
}

// The key (struct sock *) and entry of the connection with these local and remote ports.
std::pair<uint64_t, nl_conn> EntryWithPorts(int conns, uint16_t local_port, uint16_t remote_port) {
  uint64_t key = 0, next = 0;
  for (uint64_t* previous = nullptr; bpf_map_get_next_key(conns, previous, &next) == 0;) {
    nl_conn conn{};
    if (bpf_map_lookup_elem(conns, &next, &conn) == 0 && conn.tuple.local_port == local_port &&
        conn.tuple.remote_port == remote_port)
      return {next, conn};
    key = next;
    previous = &key;
  }
  FAIL("no tcp_conns entry for local port " << local_port << ", remote port " << remote_port);
  return {};
}

// A loopback connection that carried one request and its response, and the server end's entry.
struct Exchanged {
  LoopbackPair pair;
  UniqueFd conns;
  uint64_t sock = 0;
  nl_conn entry{};
};
Exchanged Exchange(const NetlensProcess& netlens, size_t request, size_t response) {
  Exchanged done{ConnectLoopbackPair(), ConnsMapOf(netlens.pid())};
  Transfer(done.pair.client.get(), done.pair.server.get(), request);
  Transfer(done.pair.server.get(), done.pair.client.get(), response);
  std::tie(done.sock, done.entry) =
      EntryWithPorts(done.conns.get(), done.pair.port, done.pair.client_port);
  return done;
}

double SelfCounter(const Scrape& scrape, std::string_view name) {
  return ValueOfOne(scrape.samples, name, {});
}

// The peer's FIN alone (its CLOSE_WAIT run, before this end's close()) leaves the end's counters
// in its entry: an end whose close-time runs are then all unseen (path 5 of "Folds that carry no
// counters" in ebpf/tcp/conn_track.bpf.h) keeps its bytes.
TEST_CASE("unread folds: the peer's FIN reads the counters of the end it half-closes", "[unread]") {
  NetlensProcess netlens("process");
  constexpr size_t kRequest = 2345, kResponse = 678;
  auto [pair, conns, sock, before_fin] = Exchange(netlens, kRequest, kResponse);
  pair.client.Reset();  // the server end goes to CLOSE_WAIT; this process never closes it yet
  nl_conn entry{};
  for (int i = 0; i < 50; ++i) {
    REQUIRE(bpf_map_lookup_elem(conns.get(), &sock, &entry) == 0);
    if (entry.counters_read || PerEventAccounting()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (PerEventAccounting()) {
    // Counted per call; nothing is read from the socket.
    REQUIRE(entry.counters_read == 0);
  } else {
    REQUIRE(before_fin.counters_read == 0);  // nothing read it while established
    REQUIRE(entry.counters_read == 1);
  }
  REQUIRE(entry.traffic.bytes_sent == kResponse);
  REQUIRE(entry.traffic.bytes_received == kRequest);
}

// What a missed CLOSE and tcp_destroy_sock leave behind is made here by hand: an entry written
// into the daemon's own tcp_conns under a real socket's pointer, which the next scrape's stale
// check must fold. Its comm tells its series apart; pid is this process's, start time 0 (a
// process that never expires).
TEST_CASE("unread folds: a stale entry is folded with its socket's counters where they can be read",
          "[unread]") {
  NetlensProcess netlens("process");
  if (PerEventAccounting()) {
    // No scrape program, no stale check: nothing is folded unread.
    REQUIRE(SelfCounter(netlens.ScrapeMetrics(), metric::kKernelUnreadFoldsTotal) == 0);
    return;
  }
  constexpr size_t kRequest = 4321, kResponse = 765;
  auto [pair, conns, sock, entry] = Exchange(netlens, kRequest, kResponse);
  // The client aborts: the server end is in CLOSE, its entry folded by its CLOSE run, and it
  // stays a socket (with its counters) until this process closes it.
  Abort(pair.client);
  for (int i = 0; i < 50; ++i) {
    nl_conn left{};
    if (bpf_map_lookup_elem(conns.get(), &sock, &left) != 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const Scrape before = netlens.ScrapeMetrics();
  double stale = SelfCounter(before, metric::kKernelStaleEntriesTotal);
  double unread = SelfCounter(before, metric::kKernelUnreadFoldsTotal);

  // Writes a fake entry under the server end's pointer, scrapes, and checks the counters.
  auto fold = [&](const std::string& comm, uint16_t remote_port, bool counters_read,
                  uint64_t sent_before, double unread_folds) {
    nl_conn fake = entry;
    fake.pid = static_cast<uint32_t>(getpid());
    std::memset(fake.comm, 0, sizeof(fake.comm));
    std::memcpy(fake.comm, comm.data(), comm.size());
    fake.start_time = 0;
    fake.tuple.remote_port = remote_port;
    fake.traffic = {};
    fake.traffic.bytes_sent = sent_before;
    fake.base = {};
    fake.counters_read = counters_read ? 1 : 0;
    fake.established = 1;
    REQUIRE(bpf_map_update_elem(conns.get(), &sock, &fake, BPF_NOEXIST) == 0);
    const Scrape scrape = netlens.ScrapeMetrics();
    nl_conn left{};
    REQUIRE(bpf_map_lookup_elem(conns.get(), &sock, &left) != 0);  // folded
    REQUIRE(SelfCounter(scrape, metric::kKernelStaleEntriesTotal) == ++stale);
    unread += unread_folds;
    REQUIRE(SelfCounter(scrape, metric::kKernelUnreadFoldsTotal) == unread);
    RequireConnections(scrape, {{"comm", comm}, {"direction", "passive"}}, 1, 1);
    return scrape;
  };
  SECTION("its socket in CLOSE, with its ports: the socket's final counters") {
    const std::string comm = UniqueComm();
    const Scrape scrape = fold(comm, pair.client_port, false, 0, 0);
    RequireValue(scrape, metric::kSentBytes, {{"comm", comm}}, kResponse);
    RequireValue(scrape, metric::kReceivedBytes, {{"comm", comm}}, kRequest);
  }
  SECTION("another socket at its address: nothing to read, one unread fold") {
    const std::string comm = UniqueComm();
    const Scrape scrape = fold(comm, pair.client_port + 1, false, 0, 1);
    RequireValue(scrape, metric::kSentBytes, {{"comm", comm}}, 0, Match::kSum);
  }
  SECTION("another socket at its address, the entry read at its close(): folded as read") {
    const std::string comm = UniqueComm();
    const Scrape scrape = fold(comm, pair.client_port + 1, true, 555, 0);
    RequireValue(scrape, metric::kSentBytes, {{"comm", comm}}, 555);
  }
}

}  // namespace
}  // namespace netlens::test
