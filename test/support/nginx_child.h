// Debian's nginx, started by a test from its own prefix and config; stopped with SIGQUIT at the
// end (the master stops its workers: a killed master would leave them serving).
#pragma once

#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "subprocess.h"
#include "temp_dir.h"

namespace netlens::test {

class NginxChild {
 public:
  NginxChild(const TempDir& dir, const std::string& conf)
      : child_({"/usr/sbin/nginx", "-p", dir.path(), "-c", conf, "-e", dir.PathOf("error.log")},
               SpawnOptions{.output_file = dir.PathOf("nginx.out")}) {}
  ~NginxChild() {
    child_.Signal(SIGQUIT);
    if (!child_.WaitFor(std::chrono::milliseconds(10000))) child_.Kill();
  }
  NginxChild(const NginxChild&) = delete;
  NginxChild& operator=(const NginxChild&) = delete;

 private:
  Child child_;
};

// test/helpers/http_peers.py's HTTP backend on 127.0.0.1:port (NL_HTTP_PEERS_SCRIPT), ready
// once it printed "listening"; Stop() closes its standard input, which ends it.
class HttpPeersBackend {
 public:
  explicit HttpPeersBackend(uint16_t port)
      : child_({NL_HTTP_PEERS_SCRIPT, "backend", std::to_string(port)},
               SpawnOptions{.stdin_pipe = true}) {
    REQUIRE(child_.ReadLine(std::chrono::milliseconds(10000)) ==
            std::optional<std::string>("listening"));
  }
  void Stop() { child_.CloseStdin(); }

 private:
  Child child_;
};

}  // namespace netlens::test
