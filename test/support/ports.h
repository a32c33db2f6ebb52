// Loopback ports for the tests: a listening socket that holds a port, and a free port.
#pragma once

#include <cstdint>

#include "unique_fd.h"

namespace netlens::test {

// A TCP socket bound to 127.0.0.1 on an ephemeral port and listening, until destroyed.
class LoopbackListener {
 public:
  LoopbackListener();
  uint16_t port() const { return port_; }

 private:
  UniqueFd fd_;
  uint16_t port_ = 0;
};

// A port of 127.0.0.1 that was free a moment ago (bound to port 0, then released).
uint16_t FreeLoopbackPort();

}  // namespace netlens::test
