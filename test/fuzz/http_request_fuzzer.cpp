// Fuzz target: the HTTP endpoint's request handling without sockets. The bytes are parsed by
// Boost.Beast with the server's own bounds (serve/http_request_handler.h), then answered by
// RequestHandler::Respond with and without basic auth. Contract: no crash, leak or UB; every
// reply has a status the endpoint can give; a GET's Content-Length is its body's size, a HEAD
// has no body; without valid credentials nothing but 401 (or 400 for too many headers) comes
// back from the authenticated handler.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "config/web_config.h"
#include "fuzz_check.h"
#include "serve/http_request_handler.h"

namespace {

using netlens::HttpReply;
using netlens::RequestHandler;

std::optional<std::string> Exposition() { return std::string("netlens_up 1\n"); }

// alice:secret at bcrypt cost 4 (the cheapest): `htpasswd -nbBC 4 alice secret`.
const netlens::BasicAuthenticator& Authenticator() {
  static const netlens::BasicAuthenticator authenticator(
      {{"alice", "$2y$04$2NbRhTBh3fFuEHtQkrzzAO1hICryrw.s7S99hXkL/k4YAngeuN64y"}});
  return authenticator;
}

void CheckReply(const netlens::HttpRequest& request, const HttpReply& reply) {
  const int s = reply.status;
  NETLENS_FUZZ_CHECK(s == 200 || s == 400 || s == 401 || s == 404 || s == 405 || s == 503);
  if (request.method == "HEAD") NETLENS_FUZZ_CHECK(reply.body.empty());
  if (request.method == "GET") NETLENS_FUZZ_CHECK(reply.content_length == reply.body.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace http = boost::beast::http;
  http::request_parser<http::string_body> parser;
  parser.header_limit(netlens::kMaxRequestHeaderBytes);
  parser.body_limit(netlens::kMaxRequestBodyBytes);
  boost::beast::error_code error;
  parser.put(boost::asio::buffer(data, size), error);
  if (!error && !parser.is_done()) parser.put_eof(error);
  if (error || !parser.is_done()) return 0;  // the server answers 400 and closes
  const netlens::HttpRequest request = netlens::RequestOf(parser.get());

  static const RequestHandler open(nullptr, Exposition);
  CheckReply(request, open.Respond(request));

  static const RequestHandler guarded(&Authenticator(), Exposition);
  const HttpReply reply = guarded.Respond(request);
  CheckReply(request, reply);
  const std::optional<std::string_view> credentials = netlens::FindHeader(request, "Authorization");
  if (!credentials || !Authenticator().Check(*credentials))
    NETLENS_FUZZ_CHECK(reply.status == 401 || reply.status == 400);
  return 0;
}
