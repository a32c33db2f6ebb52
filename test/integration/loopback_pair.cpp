#include "loopback_pair.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <string>

#include "ports.h"

namespace netlens::test {
namespace {

sockaddr_in LoopbackAddress(uint16_t port) {
  return {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = {htonl(0x7f000001)}};
}

}  // namespace

Listener ListenOnLoopback() {
  Listener listener;
  listener.port = FreeLoopbackPort();
  listener.fd.Reset(socket(AF_INET, SOCK_STREAM, 0));
  const int one = 1;
  REQUIRE(setsockopt(listener.fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0);
  sockaddr_in address = LoopbackAddress(listener.port);
  REQUIRE(bind(listener.fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  REQUIRE(listen(listener.fd.get(), 4) == 0);
  return listener;
}

UniqueFd ConnectToLoopback(uint16_t port, uint16_t* local_port) {
  UniqueFd client(socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in address = LoopbackAddress(port);
  REQUIRE(connect(client.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  if (local_port) {
    sockaddr_in local{};
    socklen_t length = sizeof(local);
    REQUIRE(getsockname(client.get(), reinterpret_cast<sockaddr*>(&local), &length) == 0);
    *local_port = ntohs(local.sin_port);
  }
  return client;
}

LoopbackPair ConnectLoopbackPair() {
  LoopbackPair pair;
  Listener listener = ListenOnLoopback();
  pair.port = listener.port;
  pair.listener = std::move(listener.fd);
  pair.client = ConnectToLoopback(pair.port, &pair.client_port);
  pair.server.Reset(accept(pair.listener.get(), nullptr, nullptr));
  REQUIRE(pair.server.get() >= 0);
  return pair;
}

void SendBytes(int fd, size_t bytes) {
  const std::string payload(bytes, 'x');
  REQUIRE(send(fd, payload.data(), payload.size(), 0) == static_cast<ssize_t>(bytes));
}

void Transfer(int from, int to, size_t bytes) {
  SendBytes(from, bytes);
  std::string buffer(bytes, '\0');
  REQUIRE(recv(to, buffer.data(), bytes, MSG_WAITALL) == static_cast<ssize_t>(bytes));
}

void Abort(UniqueFd& fd) {
  const linger abort_on_close{.l_onoff = 1, .l_linger = 0};
  REQUIRE(setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof(abort_on_close)) ==
          0);
  fd.Reset();
}

}  // namespace netlens::test
