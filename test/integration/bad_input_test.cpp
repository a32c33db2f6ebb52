// Bad configuration, a busy port and --version: exit codes and messages.
#include <catch2/catch.hpp>
#include <chrono>

#include "netlens_process.h"
#include "ports.h"

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

TEST_CASE("bad input: --version prints the version", "[bad-input]") {
  Output output = Run({NetlensBinary(), "--version"}, 10s);
  INFO(Printed(output));
  REQUIRE(output.status.Describe() == "exit code 0");
  REQUIRE(output.out.find(NETLENS_EXPECTED_VERSION) != std::string::npos);
}

}  // namespace
}  // namespace netlens::test
