// What the HTTP endpoint answers to one parsed request, without sockets: basic auth on every
// path, the landing page at /, the exposition at /metrics (gzip when the client accepts it),
// 404 elsewhere, 405 for methods other than GET and HEAD, 400 for requests with too many
// headers. Pure apart from the metrics source it is given, so a fuzz target can drive it
// (RequestHandler::Respond) with a fixed source and no server.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace netlens {

class BasicAuthenticator;

struct HttpRequest {
  std::string method;                                        // as sent: "GET"
  std::string target;                                        // as sent: "/metrics?x=1"
  std::vector<std::pair<std::string, std::string>> headers;  // in order, names as sent
};

struct HttpReply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Length
  std::string body;
  size_t content_length = 0;  // of the body a GET would get (a HEAD reply's body is empty)
  bool close = false;         // the connection ends after this reply
};

// The request as the handler sees it, from a parsed Boost.Beast message (any body type).
template <typename Message>
HttpRequest RequestOf(const Message& message) {
  HttpRequest request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  for (const auto& field : message)
    request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  return request;
}

// Request header bytes, as civetweb's max_request_size allowed; over it: 400.
inline constexpr size_t kMaxRequestHeaderBytes = 16 * 1024;
// GET and HEAD carry no body; a body is read (and ignored) up to this size.
inline constexpr uint64_t kMaxRequestBodyBytes = 64 * 1024;
// Requests with more header lines than this are refused (400): parsing bounds the header
// bytes, this their count.
inline constexpr size_t kMaxRequestHeaders = 100;

class RequestHandler {
 public:
  // The exposition text of a scrape; nullopt while there is nothing to serve yet (503).
  using MetricsSource = std::function<std::optional<std::string>()>;

  // `authenticator` may be null (no basic auth); it must outlive the handler.
  RequestHandler(const BasicAuthenticator* authenticator, MetricsSource metrics);
  HttpReply Respond(const HttpRequest& request) const;

 private:
  const BasicAuthenticator* authenticator_;
  MetricsSource metrics_;
};

// The value of the first header named `name` (case-insensitive), if any.
std::optional<std::string_view> FindHeader(const HttpRequest& request, std::string_view name);
// Whether an Accept-Encoding value lists gzip with a non-zero weight.
bool AcceptsGzip(std::string_view accept_encoding);
// `text` in the gzip format (RFC 1952).
std::string Gzip(std::string_view text);

}  // namespace netlens
