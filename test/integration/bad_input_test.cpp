// Bad configuration, a busy port, malformed HTTP requests and --version: exit codes, messages
// and status codes.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <chrono>

#include "netlens_process.h"
#include "ports.h"
#include "unique_fd.h"

#ifndef NETLENS_EXPECTED_VERSION
#error "NETLENS_EXPECTED_VERSION must be defined by the build (the project version)"
#endif

namespace netlens::test {
namespace {

using namespace std::chrono_literals;

std::string Printed(const Output& output) {
  return "status: " + output.status.Describe() + (output.timed_out ? " (timed out)" : "") +
         "\nstdout:\n" + output.out + "\nstderr:\n" + output.err;
}

TEST_CASE("bad input: --check-config names the place of an unknown key", "[bad-input]") {
  TempDir dir;
  std::string config = dir.Write("bad.yaml",
                                 "listen: \"127.0.0.1:9750\"\n"
                                 "aggregation: process\n"
                                 "colour: blue\n");
  Output output = Run({NetlensBinary(), "--check-config", config}, 10s);
  INFO(Printed(output));
  REQUIRE(output.status.Describe() == "exit code 2");
  REQUIRE(output.err.find(config + ":3:1: unknown key") != std::string::npos);
}

TEST_CASE("bad input: a listen address in use fails fast and names the address", "[bad-input]") {
  LoopbackListener busy;
  std::string listen = "127.0.0.1:" + std::to_string(busy.port());
  TempDir dir;
  std::string config = dir.Write("netlens.yaml", NetlensConfig(listen, "process"));
  Output output = Run({NetlensBinary(), "--config", config, "--listen", listen}, 5s);
  INFO(Printed(output));
  REQUIRE_FALSE(output.timed_out);
  REQUIRE(output.status.exited);
  REQUIRE(output.status.code != 0);
  REQUIRE((output.out + output.err).find(listen) != std::string::npos);
}

// Sends `request` to 127.0.0.1:port as is and returns what comes back until the server closes
// (5 s at most).
std::string RawExchange(uint16_t port, const std::string& request) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(fd.valid());
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);
  REQUIRE(send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size()));
  std::string response;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd.get(), POLLIN, 0};
    if (poll(&p, 1, 100) != 1) continue;
    char buffer[4096];
    const ssize_t got = recv(fd.get(), buffer, sizeof buffer, 0);
    if (got <= 0) break;
    response.append(buffer, static_cast<size_t>(got));
  }
  return response;
}

TEST_CASE("bad input: junk, huge and too many headers get 400 and a close", "[bad-input]") {
  NetlensProcess netlens("process");
  std::string many_headers = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 150; ++i) many_headers += "X-Header-" + std::to_string(i) + ": y\r\n";
  many_headers += "\r\n";
  for (const auto& [what, request] : std::vector<std::pair<std::string, std::string>>{
           {"junk", "\x16\x03\x01 junk junk\r\n\r\n"},
           {"no version", "GET /metrics\r\n\r\n"},
           {"a 20 KiB header",
            "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n"},
           {"150 header lines", many_headers},
       }) {
    INFO(what << " to " << netlens.Describe());
    const std::string response = RawExchange(netlens.port(), request);
    CHECK(response.rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
    CHECK(response.find("\r\nConnection: close\r\n") != std::string::npos);
  }
  // Still serving.
  CHECK(netlens.Get("/metrics").status == 200);
}

TEST_CASE("bad input: --version prints the version", "[bad-input]") {
  Output output = Run({NetlensBinary(), "--version"}, 10s);
  INFO(Printed(output));
  REQUIRE(output.status.Describe() == "exit code 0");
  REQUIRE(output.out.find(NETLENS_EXPECTED_VERSION) != std::string::npos);
}

}  // namespace
}  // namespace netlens::test
