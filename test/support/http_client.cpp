#include "http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "unique_fd.h"

namespace netlens::test {
namespace {

using Clock = std::chrono::steady_clock;

class Connection {
 public:
  Connection(uint16_t port, Clock::time_point deadline)
      : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)), deadline_(deadline) {
    if (!fd_.valid()) Fail("socket");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      if (errno != EINPROGRESS) Fail("connect");
      Wait(POLLOUT, "connect");
      int error = 0;
      socklen_t length = sizeof(error);
      getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &error, &length);
      if (error != 0) {
        errno = error;
        Fail("connect");
      }
    }
  }
  void SendAll(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
      if (n > 0) {
        data.remove_prefix(static_cast<size_t>(n));
      } else if (errno == EAGAIN || errno == EINTR) {
        Wait(POLLOUT, "send");
      } else {
        Fail("send");
      }
    }
  }

  std::string ReceiveAll() {
    std::string data;
    char chunk[65536];
    for (;;) {
      ssize_t n = recv(fd_.get(), chunk, sizeof(chunk), 0);
      if (n > 0) {
        data.append(chunk, static_cast<size_t>(n));
      } else if (n == 0) {
        return data;
      } else if (errno == EAGAIN || errno == EINTR) {
        Wait(POLLIN, "recv");
      } else {
        Fail("recv");
      }
    }
  }

 private:
  [[noreturn]] void Fail(const char* what) {
    throw HttpError(std::string("HTTP ") + what + ": " + std::strerror(errno));
  }

  void Wait(short events, const char* what) {
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
      if (left.count() <= 0) throw HttpError(std::string("HTTP ") + what + ": timed out");
      pollfd polled{.fd = fd_.get(), .events = events, .revents = 0};
      int ready = poll(&polled, 1, static_cast<int>(left.count()));
      if (ready > 0) return;
      if (ready < 0 && errno != EINTR) Fail("poll");
    }
  }

  UniqueFd fd_;
  Clock::time_point deadline_;
};

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string Dechunk(std::string_view chunked) {
  std::string body;
  for (;;) {
    size_t line_end = chunked.find("\r\n");
    if (line_end == std::string_view::npos) throw HttpError("HTTP: truncated chunked body");
    size_t size = std::stoul(std::string(chunked.substr(0, line_end)), nullptr, 16);
    chunked.remove_prefix(line_end + 2);
    if (size == 0) return body;
    if (chunked.size() < size + 2) throw HttpError("HTTP: truncated chunk");
    body.append(chunked.substr(0, size));
    chunked.remove_prefix(size + 2);
  }
}

}  // namespace

HttpResponse HttpGet(uint16_t port, std::string_view path, std::chrono::milliseconds timeout) {
  Connection connection(port, Clock::now() + timeout);
  connection.SendAll("GET " + std::string(path) + " HTTP/1.0\r\nHost: 127.0.0.1:" +
                     std::to_string(port) + "\r\nConnection: close\r\n\r\n");
  std::string raw = connection.ReceiveAll();

  size_t header_end = raw.find("\r\n\r\n");
  if (header_end == std::string::npos || raw.compare(0, 5, "HTTP/") != 0) {
    throw HttpError("HTTP: malformed response: " + raw.substr(0, 200));
  }
  HttpResponse response;
  response.headers = raw.substr(0, header_end);
  size_t space = response.headers.find(' ');
  if (space == std::string::npos) throw HttpError("HTTP: no status code: " + response.headers);
  response.status = std::atoi(response.headers.c_str() + space + 1);
  std::string_view body = std::string_view(raw).substr(header_end + 4);
  if (Lower(response.headers).find("\r\ntransfer-encoding: chunked") != std::string::npos) {
    response.body = Dechunk(body);
  } else {
    response.body = body;
  }
  return response;
}

}  // namespace netlens::test
