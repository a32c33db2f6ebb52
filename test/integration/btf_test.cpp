// --btf PATH: an external BTF file (as from btfhub) instead of /sys/kernel/btf/vmlinux.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>

#include "expect.h"
#include "netlens_process.h"
#include "sides.h"

namespace netlens::test {
namespace {

using namespace std::chrono_literals;

TEST_CASE("btf: an external BTF file given with --btf serves CO-RE, counts stay exact", "[btf]") {
  TempDir dir;
  const std::string btf = dir.PathOf("vmlinux.btf");
  std::filesystem::copy_file("/sys/kernel/btf/vmlinux", btf);
  NetlensProcess netlens("process", {"--btf", btf});
  TrafficOptions options{.comm = UniqueComm(), .connections = 3, .rounds = 2, .request = 500};
  TrafficReport report = RunTraffic(options);
  RequireHelperCalls(options, report);
  Scrape scrape = netlens.ScrapeMetrics();
  const Side client = ClientSide(options, report);
  RequireTraffic(scrape, client.process, client.counts);
}

TEST_CASE("btf: a missing --btf file is a clear error", "[btf]") {
  Output output =
      Run({NetlensBinary(), "--listen", "127.0.0.1:1", "--btf", "/nonexistent.btf"}, 10s);
  INFO(output.err);
  REQUIRE(output.status.Describe() == "exit code 1");
  REQUIRE(output.err.find("--btf /nonexistent.btf: no such file") != std::string::npos);
}

}  // namespace
}  // namespace netlens::test
