// A minimal HTTP/1.0 GET client for 127.0.0.1, enough to scrape netlens.
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace netlens::test {

struct HttpResponse {
  int status = 0;
  std::string headers;  // the status line and the header lines, as received
  std::string body;     // de-chunked if the server used chunked transfer encoding
};

// No connection, a timeout or a malformed response.
class HttpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// GET http://127.0.0.1:PORT/PATH; the whole exchange must finish within timeout.
HttpResponse HttpGet(uint16_t port, std::string_view path,
                     std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace netlens::test
