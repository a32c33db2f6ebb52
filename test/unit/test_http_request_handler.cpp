// Tests of the HTTP endpoint's answers without sockets (RequestHandler) and of its connection
// admission (ConnectionLimits).
#include <zlib.h>

#include <catch2/catch.hpp>
#include <string>

#include "config/web_config.h"
#include "serve/http_connection_limits.h"
#include "serve/http_request_handler.h"

namespace netlens {
namespace {

constexpr const char* kExposition = "# TYPE x counter\nx 1\n";
// Python's crypt.crypt('s3cret', crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)).
constexpr const char* kBobHash = "$2b$04$YFoFUDWT9syh4Pt.bueZ3.mTcBGsbnXL2rJ95fIulmeu4.FfnLMla";

RequestHandler Serving() {
  return RequestHandler(nullptr, [] { return std::optional<std::string>(kExposition); });
}

std::string HeaderOf(const HttpReply& reply, const std::string& name) {
  for (const auto& [key, value] : reply.headers) {
    if (key == name) return value;
  }
  return "";
}

std::string Gunzip(const std::string& data) {
  z_stream stream{};
  REQUIRE(inflateInit2(&stream, 15 + 16) == Z_OK);
  std::string out(1 << 16, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int result = inflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  inflateEnd(&stream);
  REQUIRE(result == Z_STREAM_END);
  return out;
}

TEST_CASE("http handler: routes, methods and encodings", "[http]") {
  const RequestHandler handler = Serving();
  SECTION("GET /metrics: the exposition") {
    const HttpReply reply = handler.Respond({"GET", "/metrics", {}});
    CHECK(reply.status == 200);
    CHECK(reply.body == kExposition);
    CHECK(reply.content_length == reply.body.size());
    CHECK(HeaderOf(reply, "Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
    CHECK(HeaderOf(reply, "Content-Encoding").empty());
  }
  SECTION("HEAD /metrics: the GET's headers and length, no body") {
    const HttpReply reply = handler.Respond({"HEAD", "/metrics?x=1", {}});
    CHECK(reply.status == 200);
    CHECK(reply.body.empty());
    CHECK(reply.content_length == std::string(kExposition).size());
  }
  SECTION("gzip when accepted") {
    const HttpReply reply =
        handler.Respond({"GET", "/metrics", {{"accept-encoding", "deflate, gzip;q=0.8"}}});
    CHECK(HeaderOf(reply, "Content-Encoding") == "gzip");
    CHECK(Gunzip(reply.body) == kExposition);
    CHECK(AcceptsGzip("gzip"));
    CHECK(AcceptsGzip("br, GZIP"));
    CHECK_FALSE(AcceptsGzip("gzip;q=0"));
    CHECK_FALSE(AcceptsGzip("gzip; q=0.000"));
    CHECK_FALSE(AcceptsGzip("identity, gzipx"));
    CHECK_FALSE(AcceptsGzip(""));
  }
  SECTION("the landing page, 404, 405, 503 before serving") {
    const HttpReply landing = handler.Respond({"GET", "/", {}});
    CHECK(landing.status == 200);
    CHECK(landing.body.find("href=\"/metrics\"") != std::string::npos);
    CHECK(handler.Respond({"GET", "/metrics/x", {}}).status == 404);
    CHECK(handler.Respond({"GET", "", {}}).status == 404);
    const HttpReply post = handler.Respond({"POST", "/metrics", {}});
    CHECK(post.status == 405);
    CHECK(HeaderOf(post, "Allow") == "GET, HEAD");
    CHECK(RequestHandler(nullptr, {}).Respond({"GET", "/metrics", {}}).status == 503);
    CHECK(RequestHandler(nullptr, {}).Respond({"GET", "/", {}}).status == 200);
  }
  SECTION("too many header lines: 400, and the connection closes") {
    HttpRequest request{"GET", "/metrics", {}};
    for (size_t i = 0; i < kMaxRequestHeaders; ++i) request.headers.emplace_back("X-A", "b");
    CHECK(handler.Respond(request).status == 200);
    request.headers.emplace_back("X-A", "b");
    const HttpReply reply = handler.Respond(request);
    CHECK(reply.status == 400);
    CHECK(reply.close);
  }
}

TEST_CASE("http handler: basic auth covers every path", "[http]") {
  const BasicAuthenticator auth(std::map<std::string, std::string>{{"bob", kBobHash}});
  const RequestHandler handler(&auth, [] { return std::optional<std::string>(kExposition); });
  const std::string good = "Basic Ym9iOnMzY3JldA==";  // bob:s3cret
  const std::string wrong = "Basic Ym9iOndyb25n";     // bob:wrong
  for (const std::string path : {"/metrics", "/", "/nothing"}) {
    INFO(path);
    for (const auto& headers : std::vector<std::vector<std::pair<std::string, std::string>>>{
             {}, {{"Authorization", wrong}}, {{"Authorization", "Bearer x"}}}) {
      const HttpReply reply = handler.Respond({"GET", path, headers});
      CHECK(reply.status == 401);
      CHECK(HeaderOf(reply, "WWW-Authenticate") == "Basic realm=\"netlens\", charset=\"UTF-8\"");
      CHECK(reply.body == "401 Unauthorized\n");
    }
  }
  CHECK_FALSE(auth.Remembered(good));
  CHECK(handler.Respond({"GET", "/metrics", {{"authorization", good}}}).status == 200);
  // Once passed, the credentials are known without a bcrypt run; wrong ones never are.
  CHECK(auth.Remembered(good));
  CHECK_FALSE(auth.Remembered(wrong));
  CHECK_FALSE(auth.Remembered("Basic Ym9iOnMzY3JldA"));  // not base64
  CHECK_FALSE(auth.Remembered(""));
  CHECK(handler.Respond({"GET", "/nothing", {{"Authorization", good}}}).status == 404);
}

TEST_CASE("http connection limits: total and per peer", "[http]") {
  ConnectionLimits limits(3, 2);
  CHECK(limits.Admit("10.0.0.1") == Admission::kAdmitted);
  CHECK(limits.Admit("10.0.0.1") == Admission::kAdmitted);
  CHECK(limits.Admit("10.0.0.1") == Admission::kPerPeerLimit);
  CHECK(limits.Admit("10.0.0.2") == Admission::kAdmitted);
  CHECK(limits.Admit("10.0.0.3") == Admission::kTotalLimit);
  CHECK(limits.open() == 3);
  limits.Release("10.0.0.1");
  CHECK(limits.open() == 2);
  CHECK(limits.Admit("10.0.0.3") == Admission::kAdmitted);
  CHECK(limits.Admit("10.0.0.1") == Admission::kTotalLimit);
  limits.Release("10.0.0.2");
  limits.Release("10.0.0.3");
  CHECK(limits.Admit("10.0.0.1") == Admission::kAdmitted);
  CHECK(limits.Admit("10.0.0.1") == Admission::kPerPeerLimit);
  limits.Release("10.0.0.9");  // never admitted: nothing to release
  CHECK(limits.open() == 2);
}

}  // namespace
}  // namespace netlens
