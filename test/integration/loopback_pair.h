// Loopback TCP connections made by the test process itself, with Catch2 assertions: for tests
// that need a socket's exact life (reset, abort, never accepted) rather than nl-traffic's.
#pragma once

#include <cstddef>
#include <cstdint>

#include "unique_fd.h"

namespace netlens::test {

// A listening socket on 127.0.0.1 (backlog 4) on a port free a moment ago.
struct Listener {
  UniqueFd fd;
  uint16_t port = 0;
};
Listener ListenOnLoopback();

// A client socket connected to port on 127.0.0.1 (not accepted yet); its local port.
UniqueFd ConnectToLoopback(uint16_t port, uint16_t* local_port = nullptr);

// A connected loopback pair made by this process: client and server ends.
struct LoopbackPair {
  UniqueFd listener, client, server;
  uint16_t port = 0, client_port = 0;
};
LoopbackPair ConnectLoopbackPair();

// Sends `bytes` from one end and reads them all at the other.
void Transfer(int from, int to, size_t bytes);

// Sends `bytes` of 'x' on fd, in one call.
void SendBytes(int fd, size_t bytes);

// Closes fd with a RST instead of a FIN (SO_LINGER 0).
void Abort(UniqueFd& fd);

}  // namespace netlens::test
