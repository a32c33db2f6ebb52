#include "ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "system_error.h"

namespace netlens::test {

LoopbackListener::LoopbackListener() : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (!fd_.valid() || bind(fd_.get(), reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      listen(fd_.get(), 16) != 0 ||
      getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ThrowErrno("cannot listen on 127.0.0.1:0");
  }
  port_ = ntohs(address.sin_port);
}

uint16_t FreeLoopbackPort() { return LoopbackListener().port(); }

}  // namespace netlens::test
