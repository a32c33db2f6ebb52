// nl-traffic: deterministic loopback TCP traffic with call counts known in advance.
//
//   nl-traffic --comm NAME [--server-comm NAME2] [--family 4|6] [--connections N]
//              [--rounds R] [--request BYTES] [--response BYTES] [--server-delay-ms D]
//              [--address ADDR] [--port PORT] [--cgroup DIR] [--server-netns NAME] [--hold]
//              [--http]
//
// --address: the server's address (default 127.0.0.1 or ::1); --port: its listening
// port (default: ephemeral); --cgroup: a cgroup v2 directory the process moves into first;
// --server-netns: the /run/netns/ name of the network namespace the server enters.
//
// The process forks. The child is the server (comm NAME2, default NAME): it listens on an
// ephemeral port of 127.0.0.1 or ::1, accepts N connections, then serves them with a poll
// loop: per round one recv(request, MSG_WAITALL) and one send(response). The parent is the
// client (comm NAME): it connects N connections, then per round and connection sends the
// request with one send() and reads the response with one recv(MSG_WAITALL). Afterwards (and,
// with --hold, once standard input reaches EOF or a line "close" is read) the client closes
// every connection; the server reads EOF, closes (with SO_LINGER, so that both sockets have
// reached TCP_CLOSE when it returns) and exits. --server-address makes the server listen on
// that IPv4 address instead of loopback (the client connects there), and --server-netns moves
// the server into the named network namespace (/run/netns/NAME) first.
//
// --http: the request is "GET /nl HTTP/1.1" with a padding header and the response "HTTP/1.1
// 200 OK" with a Content-Length body, each exactly --request and --response bytes, so that an
// HTTP parser counts one request per round and connection (test/integration/http_hooks_test).
//
// Standard output, "key=value" lines (a "connection" line holds several pairs):
//   client_pid=PID
//   server_pid=PID
//   comm=NAME
//   server_comm=NAME2
//   family=4|6
//   port=PORT                                 the server's listening port
//   connection=I client_port=P server_port=Q  one line per connection (local ports)
//   ready                                     flushed: rounds done on both sides
//   client_send_calls=N                       after the connections are closed: the calls
//   client_recv_calls=N                       really made (recv calls exclude EOF reads)
//   server_send_calls=N
//   server_recv_calls=N
//   server_turns_us=L:H,...                   with --server-delay-ms, per exchange in order: the
//                                             server's turn, at least L (request read -> response
//                                             send called) and at most H (recv called -> send
//                                             returned) microseconds
//   client_waits_us=H,...                     with --server-delay-ms: the client's wait, at most H
//                                             (send called -> recv returned) microseconds
//   done
//
// Every transfer is expected to complete in one call; a short transfer is finished with more
// calls, a warning goes to stderr and the real counts are reported. Exit status 0 on success,
// 1 with a message on stderr on any error, 2 on a bad command line.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "system_error.h"
#include "unique_fd.h"

namespace netlens::test {
namespace {

constexpr size_t kMaxComm = 15;  // TASK_COMM_LEN - 1
// --http: every request starts so; its padding header fills it up to --request bytes.
constexpr std::string_view kHttpRequestHead = "GET /nl HTTP/1.1\r\nHost: nl\r\nX-Pad: ";

struct Options {
  std::string comm;
  std::string server_comm;
  int family = 4;
  long connections = 1;
  long rounds = 1;
  size_t request = 100;
  size_t response = 100;
  long server_delay_ms = 0;  // the server waits this long between request and response
  bool hold = false;
  bool http = false;         // HTTP/1.1 requests and responses of those sizes
  std::string address;       // empty: 127.0.0.1 or ::1
  long port = 0;             // 0: ephemeral
  std::string cgroup;        // empty: stay where started
  std::string server_netns;  // /run/netns/ name; empty: stay
};

struct CallCounts {
  unsigned long send_calls = 0;
  unsigned long recv_calls = 0;
};

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

const char* Usage() {
  return "usage: nl-traffic --comm NAME [--server-comm NAME] [--family 4|6] [--connections N]\n"
         "                  [--rounds R] [--request BYTES] [--response BYTES]\n"
         "                  [--server-delay-ms D] [--address ADDR] [--port PORT]\n"
         "                  [--cgroup DIR] [--server-netns NAME] [--hold] [--http]\n";
}

long ParseNumber(std::string_view flag, std::string_view text, long min) {
  long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min) {
    throw UsageError(std::string(flag) + ": expected an integer >= " + std::to_string(min) +
                     ", got '" + std::string(text) + "'");
  }
  return value;
}

void CheckComm(std::string_view flag, const std::string& comm) {
  if (comm.empty() || comm.size() > kMaxComm) {
    throw UsageError(std::string(flag) + ": a name of 1 to 15 characters is required");
  }
}

Options ParseOptions(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (flag == "--hold") {
      options.hold = true;
      continue;
    }
    if (flag == "--http") {
      options.http = true;
      continue;
    }
    if (i + 1 >= argc) throw UsageError(std::string(flag) + ": missing value");
    std::string_view value = argv[++i];
    if (flag == "--comm") {
      options.comm = value;
    } else if (flag == "--server-comm") {
      options.server_comm = value;
    } else if (flag == "--family") {
      options.family = static_cast<int>(ParseNumber(flag, value, 4));
      if (options.family != 4 && options.family != 6) throw UsageError("--family: 4 or 6");
    } else if (flag == "--connections") {
      options.connections = ParseNumber(flag, value, 1);
    } else if (flag == "--rounds") {
      options.rounds = ParseNumber(flag, value, 0);
    } else if (flag == "--request") {
      options.request = static_cast<size_t>(ParseNumber(flag, value, 1));
    } else if (flag == "--response") {
      options.response = static_cast<size_t>(ParseNumber(flag, value, 1));
    } else if (flag == "--address") {
      options.address = value;
    } else if (flag == "--port") {
      options.port = ParseNumber(flag, value, 1);
      if (options.port > 65535) throw UsageError("--port: at most 65535");
    } else if (flag == "--cgroup") {
      options.cgroup = value;
    } else if (flag == "--server-netns") {
      options.server_netns = value;
    } else if (flag == "--server-delay-ms") {
      options.server_delay_ms = ParseNumber(flag, value, 0);
    } else {
      throw UsageError("unknown option " + std::string(flag));
    }
  }
  if (options.server_comm.empty()) options.server_comm = options.comm;
  if (options.http && options.request < kHttpRequestHead.size() + 4)
    throw UsageError("--http: --request must be at least " +
                     std::to_string(kHttpRequestHead.size() + 4));
  if (options.http && options.response < 40) throw UsageError("--http: --response must be >= 40");
  CheckComm("--comm", options.comm);
  CheckComm("--server-comm", options.server_comm);
  return options;
}

// --http: a GET of exactly `size` bytes, its padding header filled with 'c'.
std::vector<char> HttpRequest(size_t size) {
  std::string message(kHttpRequestHead);
  message.append(size - message.size() - 4, 'c');
  message += "\r\n\r\n";
  return {message.begin(), message.end()};
}

// --http: a 200 of exactly `size` bytes, its Content-Length body filled with 's'.
std::vector<char> HttpResponse(size_t size) {
  for (size_t body = size; body-- > 0;) {
    std::string message = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body) + "\r\n\r\n";
    if (message.size() + body != size) continue;
    message.append(body, 's');
    return {message.begin(), message.end()};
  }
  throw UsageError("--http: --response " + std::to_string(size) + " is too small");
}

void SetComm(const std::string& comm) {
  if (prctl(PR_SET_NAME, comm.c_str(), 0, 0, 0) != 0) ThrowErrno("prctl(PR_SET_NAME)");
}

// Enough descriptors for both ends of many connections.
void RaiseFdLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// The server's address (--address, or the loopback address of the family) with the given port.
sockaddr_storage Loopback(const Options& options, uint16_t port, socklen_t* length) {
  sockaddr_storage address{};
  const int family = options.family;
  if (family == 4) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (!options.address.empty() && inet_pton(AF_INET, options.address.c_str(), &v4->sin_addr) != 1)
      throw std::runtime_error("--address: not an IPv4 address: " + options.address);
    *length = sizeof(sockaddr_in);
  } else {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    v6->sin6_addr = in6addr_loopback;
    if (!options.address.empty() &&
        inet_pton(AF_INET6, options.address.c_str(), &v6->sin6_addr) != 1)
      throw std::runtime_error("--address: not an IPv6 address: " + options.address);
    *length = sizeof(sockaddr_in6);
  }
  return address;
}

// Moves this process into the cgroup v2 directory `dir`.
void EnterCgroup(const std::string& dir) {
  UniqueFd procs(open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
  if (procs.get() < 0) ThrowErrno("open " + dir + "/cgroup.procs");
  const std::string pid = std::to_string(getpid());
  if (write(procs.get(), pid.data(), pid.size()) != static_cast<ssize_t>(pid.size()))
    ThrowErrno("moving into " + dir);
}

uint16_t LocalPort(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ThrowErrno("getsockname");
  }
  if (address.ss_family == AF_INET)
    return ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
}

UniqueFd Socket(int family) {
  UniqueFd fd(socket(family == 4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) ThrowErrno("socket");
  return fd;
}

void Warn(const char* side, const char* what, size_t size, unsigned long calls) {
  std::fprintf(stderr, "nl-traffic: warning: %s %s of %zu bytes took %lu calls\n", side, what, size,
               calls);
}

// Sends all of buffer with one send() if the kernel allows it; counts the calls.
void SendAll(const char* side, int fd, const std::vector<char>& buffer, CallCounts& counts) {
  size_t done = 0;
  unsigned long calls = 0;
  while (done < buffer.size()) {
    ssize_t n = send(fd, buffer.data() + done, buffer.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ThrowErrno(std::string(side) + ": send");
    ++calls;
    done += static_cast<size_t>(n);
  }
  counts.send_calls += calls;
  if (calls > 1) Warn(side, "send", buffer.size(), calls);
}

// Receives exactly buffer.size() bytes with one recv(MSG_WAITALL) if the kernel allows it.
void ReceiveAll(const char* side, int fd, std::vector<char>& buffer, CallCounts& counts) {
  size_t done = 0;
  unsigned long calls = 0;
  while (done < buffer.size()) {
    ssize_t n = recv(fd, buffer.data() + done, buffer.size() - done, MSG_WAITALL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ThrowErrno(std::string(side) + ": recv");
    if (n == 0) throw std::runtime_error(std::string(side) + ": peer closed the connection early");
    ++calls;
    done += static_cast<size_t>(n);
  }
  counts.recv_calls += calls;
  if (calls > 1) Warn(side, "recv", buffer.size(), calls);
}

// A line-oriented channel from the server process to the client process.
class Channel {
 public:
  explicit Channel(int fd) : fd_(fd) {}
  void Write(const std::string& line) {
    std::string text = line + "\n";
    if (write(fd_.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
      ThrowErrno("server: write to the client");
    }
  }
  // The next line; throws if the server went away.
  std::string Read() {
    for (;;) {
      if (auto pos = pending_.find('\n'); pos != std::string::npos) {
        std::string line = pending_.substr(0, pos);
        pending_.erase(0, pos + 1);
        return line;
      }
      char chunk[256];
      ssize_t n = read(fd_.get(), chunk, sizeof(chunk));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) ThrowErrno("client: read from the server");
      if (n == 0) throw std::runtime_error("client: the server process stopped early");
      pending_.append(chunk, static_cast<size_t>(n));
    }
  }
  // Reads "KEY=VALUE" and returns VALUE as a number.
  unsigned long ReadValue(const std::string& key) {
    std::string line = Read();
    if (line.rfind(key + "=", 0) != 0) {
      throw std::runtime_error("client: expected " + key + " from the server, got '" + line + "'");
    }
    return std::stoul(line.substr(key.size() + 1));
  }

 private:
  UniqueFd fd_;
  std::string pending_;
};

// Microseconds on the monotonic clock: bounds of the latencies netlens measures.
long long NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string Joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

// The server: accepts, serves the rounds, reads EOF and closes.
void Serve(const Options& options, Channel& channel) {
  SetComm(options.server_comm);
  if (!options.server_netns.empty()) {
    UniqueFd netns(open(("/run/netns/" + options.server_netns).c_str(), O_RDONLY | O_CLOEXEC));
    if (!netns.valid() || setns(netns.get(), CLONE_NEWNET) != 0)
      ThrowErrno("server: entering network namespace " + options.server_netns);
  }
  UniqueFd listener = Socket(options.family);
  socklen_t length = 0;
  sockaddr_storage address = Loopback(options, static_cast<uint16_t>(options.port), &length);
  if (bind(listener.get(), reinterpret_cast<sockaddr*>(&address), length) != 0) {
    ThrowErrno("server: bind");
  }
  if (listen(listener.get(), SOMAXCONN) != 0) ThrowErrno("server: listen");
  channel.Write("port=" + std::to_string(LocalPort(listener.get())));

  std::vector<UniqueFd> connections;
  while (connections.size() < static_cast<size_t>(options.connections)) {
    UniqueFd fd(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (fd.get() < 0 && errno == EINTR) continue;
    if (fd.get() < 0) ThrowErrno("server: accept");
    linger wait_for_close{.l_onoff = 1, .l_linger = 5};
    if (setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &wait_for_close, sizeof(wait_for_close))) {
      ThrowErrno("server: setsockopt(SO_LINGER)");
    }
    connections.push_back(std::move(fd));
  }
  listener.Reset();

  std::vector<char> request(options.request);
  std::vector<char> response =
      options.http ? HttpResponse(options.response) : std::vector<char>(options.response, 's');
  std::vector<long> rounds(connections.size(), 0);
  CallCounts counts;
  std::vector<std::string> turns;  // with a delay: "low:high" per exchange
  size_t open = connections.size();
  size_t serving = options.rounds > 0 ? connections.size() : 0;
  if (serving == 0) channel.Write("rounds_done");
  std::vector<pollfd> polled(connections.size());
  while (open > 0) {
    for (size_t i = 0; i < connections.size(); ++i) {
      polled[i] = {.fd = connections[i].get(), .events = POLLIN, .revents = 0};
    }
    if (poll(polled.data(), polled.size(), -1) < 0) {
      if (errno == EINTR) continue;
      ThrowErrno("server: poll");
    }
    for (size_t i = 0; i < connections.size(); ++i) {
      if (polled[i].fd < 0 || polled[i].revents == 0) continue;
      int fd = connections[i].get();
      if (rounds[i] < options.rounds) {
        const long long recv_called = NowUs();
        ReceiveAll("server", fd, request, counts);
        const long long recv_returned = NowUs();
        if (options.server_delay_ms > 0)
          std::this_thread::sleep_for(std::chrono::milliseconds(options.server_delay_ms));
        const long long send_called = NowUs();
        SendAll("server", fd, response, counts);
        if (options.server_delay_ms > 0) {
          turns.push_back(std::to_string(send_called - recv_returned) + ":" +
                          std::to_string(NowUs() - recv_called));
        }
        if (++rounds[i] == options.rounds && --serving == 0) channel.Write("rounds_done");
        continue;
      }
      char byte = 0;
      ssize_t n = recv(fd, &byte, 1, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) ThrowErrno("server: recv (waiting for EOF)");
      if (n > 0) throw std::runtime_error("server: unexpected data after the last round");
      connections[i].Reset();  // lingers until the connection is fully closed
      --open;
    }
  }
  if (options.server_delay_ms > 0) channel.Write("server_turns_us=" + Joined(turns));
  channel.Write("server_send_calls=" + std::to_string(counts.send_calls));
  channel.Write("server_recv_calls=" + std::to_string(counts.recv_calls));
}

// Blocks until standard input reaches EOF or a line "close".
void WaitForClose() {
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line == "close") return;
  }
}

// The client: connects, runs the rounds, reports, closes; returns the server's exit status.
int RunClient(const Options& options, pid_t server, Channel& channel) {
  auto port = static_cast<uint16_t>(channel.ReadValue("port"));
  std::vector<UniqueFd> connections;
  for (long i = 0; i < options.connections; ++i) {
    UniqueFd fd = Socket(options.family);
    socklen_t length = 0;
    sockaddr_storage address = Loopback(options, port, &length);
    while (connect(fd.get(), reinterpret_cast<sockaddr*>(&address), length) != 0) {
      if (errno != EINTR) ThrowErrno("client: connect");
    }
    connections.push_back(std::move(fd));
  }

  std::vector<char> request =
      options.http ? HttpRequest(options.request) : std::vector<char>(options.request, 'c');
  std::vector<char> response(options.response);
  CallCounts counts;
  std::vector<std::string> waits;  // with a delay: the upper bound of each wait
  for (long round = 0; round < options.rounds; ++round) {
    for (const UniqueFd& fd : connections) {
      const long long send_called = NowUs();
      SendAll("client", fd.get(), request, counts);
      ReceiveAll("client", fd.get(), response, counts);
      if (options.server_delay_ms > 0) waits.push_back(std::to_string(NowUs() - send_called));
    }
  }
  if (std::string line = channel.Read(); line != "rounds_done") {
    throw std::runtime_error("client: expected rounds_done from the server, got '" + line + "'");
  }

  std::printf("client_pid=%d\nserver_pid=%d\ncomm=%s\nserver_comm=%s\nfamily=%d\nport=%u\n",
              getpid(), server, options.comm.c_str(), options.server_comm.c_str(), options.family,
              port);
  for (size_t i = 0; i < connections.size(); ++i) {
    std::printf("connection=%zu client_port=%u server_port=%u\n", i,
                LocalPort(connections[i].get()), port);
  }
  std::printf("ready\n");
  std::fflush(stdout);

  if (options.hold) WaitForClose();
  connections.clear();  // closes every connection, in order

  std::string server_turns;
  if (options.server_delay_ms > 0) {
    server_turns = channel.Read();
    if (server_turns.rfind("server_turns_us=", 0) != 0)
      throw std::runtime_error("client: expected server_turns_us, got '" + server_turns + "'");
  }
  unsigned long server_send_calls = channel.ReadValue("server_send_calls");
  unsigned long server_recv_calls = channel.ReadValue("server_recv_calls");
  int status = 0;
  while (waitpid(server, &status, 0) < 0) {
    if (errno != EINTR) ThrowErrno("client: waitpid");
  }
  std::printf("client_send_calls=%lu\nclient_recv_calls=%lu\n", counts.send_calls,
              counts.recv_calls);
  std::printf("server_send_calls=%lu\nserver_recv_calls=%lu\n", server_send_calls,
              server_recv_calls);
  if (options.server_delay_ms > 0)
    std::printf("%s\nclient_waits_us=%s\n", server_turns.c_str(), Joined(waits).c_str());
  std::printf("done\n");
  std::fflush(stdout);
  return status;
}

int Run(int argc, char** argv) {
  Options options;
  try {
    options = ParseOptions(argc, argv);
  } catch (const UsageError& error) {
    std::fprintf(stderr, "nl-traffic: %s\n%s", error.what(), Usage());
    return 2;
  }
  RaiseFdLimit();
  if (!options.cgroup.empty()) EnterCgroup(options.cgroup);
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) ThrowErrno("pipe");
  UniqueFd read_end(pipe_fds[0]);
  UniqueFd write_end(pipe_fds[1]);
  std::fflush(stdout);
  pid_t server = fork();
  if (server < 0) ThrowErrno("fork");
  if (server == 0) {
    read_end.Reset();
    int code = 0;
    try {
      Channel channel(write_end.Release());
      Serve(options, channel);
    } catch (const std::exception& error) {
      std::fprintf(stderr, "nl-traffic: %s\n", error.what());
      code = 1;
    }
    std::fflush(stderr);
    _exit(code);
  }
  write_end.Reset();
  SetComm(options.comm);
  Channel channel(read_end.Release());
  int status = 0;
  try {
    status = RunClient(options, server, channel);
  } catch (...) {
    kill(server, SIGKILL);
    waitpid(server, nullptr, 0);
    throw;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "nl-traffic: the server process failed (wait status %d)\n", status);
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace netlens::test

int main(int argc, char** argv) {
  try {
    return netlens::test::Run(argc, argv);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "nl-traffic: %s\n", error.what());
    return 1;
  }
}
