// The sd_notify protocol as systemd's Type=notify sees it: the test binds the datagram socket
// that $NOTIFY_SOCKET names, as systemd does, and reads what netlens sends.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <optional>

#include "deploy_support.h"

namespace netlens::test {
namespace {

class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    REQUIRE(path.size() < sizeof(address.sun_path));
    std::strcpy(address.sun_path, path.c_str());
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  }
  ~NotifySocket() { close(fd_); }

  // The next datagram, or nullopt after `timeout`.
  std::optional<std::string> Receive(std::chrono::milliseconds timeout) {
    pollfd pfd{fd_, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
    char buffer[4096];
    const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
    REQUIRE(n >= 0);
    return std::string(buffer, static_cast<size_t>(n));
  }

 private:
  std::string path_;
  int fd_ = -1;
};

using namespace std::chrono_literals;

TEST_CASE("sd_notify: READY after start-up, RELOADING/READY at SIGHUP, STOPPING at SIGTERM",
          "[systemd]") {
  TempDir dir;
  const std::string socket_path = dir.PathOf("notify");
  NotifySocket notify(socket_path);
  const uint64_t kept = ExpectedKeptCapabilities();
  Daemon netlens({.aggregation = "process",
                  .wrapper = {Tool("env"), "NOTIFY_SOCKET=" + socket_path},
                  .wait = false});
  const std::string url = "http://127.0.0.1:" + std::to_string(netlens.port()) + "/metrics";

  const std::optional<std::string> ready = notify.Receive(20s);
  INFO(netlens.Report());
  REQUIRE(ready == "READY=1\nSTATUS=serving " + url + " (aggregation process)");
  // By READY=1 the port answers and privileges are already dropped.
  CHECK(HttpGet(netlens.port(), "/metrics").status == 200);
  for (const ThreadPrivileges& thread : ThreadsOf(netlens.pid())) {
    INFO(Describe(thread));
    CHECK(thread.effective == kept);
  }
  CHECK(notify.Receive(300ms) == std::nullopt);  // nothing else while running

  netlens.Signal(SIGHUP);
  CHECK(notify.Receive(10s) == "RELOADING=1\nSTATUS=reloading " + netlens.config_path());
  CHECK(notify.Receive(10s) == "READY=1\nSTATUS=serving " + url + " (aggregation process)");

  CHECK(netlens.Stop() == "exit code 0");
  CHECK(notify.Receive(1s) == "STOPPING=1\nSTATUS=stopping (signal 15)");
}

TEST_CASE("sd_notify: a configuration error is the service status", "[systemd][unprivileged]") {
  TempDir dir;
  const std::string socket_path = dir.PathOf("notify");
  NotifySocket notify(socket_path);
  const std::string config = dir.Write("netlens.yaml", "listen: \"127.0.0.1:9750\"\nlimts: {}\n");
  Output output =
      Run({Tool("env"), "NOTIFY_SOCKET=" + socket_path, NETLENS_BINARY, "--config", config}, 20s);
  CHECK(output.status.Describe() == "exit code 2");
  // stderr: "netlens: MESSAGE\n"; the status: "STATUS=failed: MESSAGE".
  const std::string prefix =
      "netlens: " + config + ":2:1: unknown key 'limts' (did you mean 'limits'?)";
  REQUIRE(output.err.rfind(prefix, 0) == 0);
  REQUIRE(output.err.back() == '\n');
  const std::string message = output.err.substr(9, output.err.size() - 10);
  CHECK(notify.Receive(1s) == "STATUS=failed: " + message);
}

TEST_CASE("sd_notify: without NOTIFY_SOCKET nothing is sent and netlens serves as usual",
          "[systemd]") {
  Daemon netlens({.aggregation = "process", .wrapper = {Tool("env"), "-u", "NOTIFY_SOCKET"}});
  CHECK(HttpGet(netlens.port(), "/metrics").status == 200);
  CHECK(netlens.Log().find("sd_notify") == std::string::npos);
  CHECK(netlens.Stop() == "exit code 0");
}

}  // namespace
}  // namespace netlens::test
