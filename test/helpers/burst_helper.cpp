// nl-burst: many short-lived client processes, each sending a known number of bytes.
//
//   nl-burst --comm NAME --processes N --bytes B [--parallel P] [--pause]
//
// The process (comm NAME) listens on an ephemeral port of 127.0.0.1 and prints "port=PORT".
// Then, P at a time, it forks clients (comm NAME, each a new pid): a client connects, sends B
// bytes, closes and exits. The server accepts each connection and reads it to EOF. When all N
// have exited it prints "received=TOTAL", "receive_calls=CALLS" (receives that moved bytes)
// and "done". With --pause it stops after the first batch, prints "paused" and waits for a
// line on standard input (a test scrapes meanwhile).
// Exit status 0 on success, 1 on an error.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "nl-burst: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

// The client: runs in the forked child, async-signal-safe calls only.
[[noreturn]] void Client(uint16_t port, size_t bytes) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) _exit(3);
  static char buffer[65536];
  size_t left = bytes;
  while (left > 0) {
    const ssize_t sent = send(fd, buffer, left < sizeof(buffer) ? left : sizeof(buffer), 0);
    if (sent <= 0) _exit(4);
    left -= static_cast<size_t>(sent);
  }
  close(fd);
  _exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  std::string comm;
  long processes = 0, bytes = 0, parallel = 50;
  bool pause = false;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--pause") {
      pause = true;
      --i;
      continue;
    }
    if (i + 1 >= argc) break;
    if (flag == "--comm")
      comm = argv[i + 1];
    else if (flag == "--processes")
      processes = std::atol(argv[i + 1]);
    else if (flag == "--bytes")
      bytes = std::atol(argv[i + 1]);
    else if (flag == "--parallel")
      parallel = std::atol(argv[i + 1]);
  }
  if (comm.empty() || processes <= 0 || bytes <= 0 || parallel <= 0) {
    std::fprintf(stderr, "usage: nl-burst --comm NAME --processes N --bytes B [--parallel P]\n");
    return 2;
  }
  prctl(PR_SET_NAME, comm.c_str());
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(addr);
  if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listener, 4096) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &length) != 0)
    Die("listen");
  const uint16_t port = ntohs(addr.sin_port);
  std::printf("port=%u\n", port);
  std::fflush(stdout);

  uint64_t received = 0, receive_calls = 0;
  std::vector<char> buffer(65536);
  for (long started = 0; started < processes;) {
    const long batch = std::min(parallel, processes - started);
    for (long i = 0; i < batch; ++i) {
      const pid_t pid = fork();
      if (pid < 0) Die("fork");
      if (pid == 0) Client(port, static_cast<size_t>(bytes));
    }
    started += batch;
    for (long i = 0; i < batch; ++i) {
      const int fd = accept(listener, nullptr, nullptr);
      if (fd < 0) Die("accept");
      for (;;) {
        const ssize_t n = recv(fd, buffer.data(), buffer.size(), 0);
        if (n < 0) Die("recv");
        if (n == 0) break;
        received += static_cast<uint64_t>(n);
        ++receive_calls;
      }
      close(fd);
    }
    for (long i = 0; i < batch; ++i) {
      int status = 0;
      if (wait(&status) < 0) Die("wait");
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::fprintf(stderr, "nl-burst: a client failed (status %d)\n", status);
        return 1;
      }
    }
    if (pause) {
      pause = false;
      std::printf("paused\n");
      std::fflush(stdout);
      char line[64];
      if (!std::fgets(line, sizeof(line), stdin)) Die("reading stdin");
    }
  }
  std::printf("received=%llu\nreceive_calls=%llu\ndone\n",
              static_cast<unsigned long long>(received),
              static_cast<unsigned long long>(receive_calls));
  return 0;
}
