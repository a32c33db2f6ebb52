// The HTTP/1.x parser and stitcher on recorded traffic (test/unit/http_fixtures/, from curl,
// nginx and python's http.server on loopback): every fixture gives the same exchanges however
// its bytes are cut into segments, as a server and as a client.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "http/exchange.h"
#include "http_test_support.h"

namespace netlens::http {
namespace {

using testing::Call;
using testing::Cut;
using testing::Fixture;
using testing::Run;
using testing::TotalErrors;

constexpr uint64_t kRequestTs = 1000;
constexpr uint64_t kResponseTs = 2000;
constexpr uint64_t kCloseTs = 3000;

struct Expected {
  Method method;
  std::string path;
  uint16_t status;
  uint64_t request_body;
  uint64_t response_body;
};

struct Case {
  std::string fixture;
  std::string host;
  std::vector<Expected> exchanges;
};

const std::vector<Case>& Cases() {
  static const std::vector<Case> cases = {
      {"nginx_get", "127.0.0.1:18091", {{Method::kGet, "/index.txt", 200, 0, 28}}},
      {"nginx_head", "127.0.0.1:18091", {{Method::kHead, "/index.txt", 200, 0, 0}}},
      {"nginx_204", "127.0.0.1:18091", {{Method::kGet, "/empty", 204, 0, 0}}},
      {"nginx_304", "127.0.0.1:18091", {{Method::kGet, "/index.txt", 304, 0, 0}}},
      {"nginx_pipelined",
       "127.0.0.1:18091",
       {{Method::kGet, "/index.txt", 200, 0, 28},
        {Method::kGet, "/gone", 404, 0, 153},
        {Method::kGet, "/empty", 204, 0, 0}}},
      {"python_chunked", "127.0.0.1:18092", {{Method::kGet, "/chunked", 200, 0, 6 + 15 + 300}}},
      {"python_close", "127.0.0.1:18092", {{Method::kGet, "/close", 200, 0, 170}}},
      {"python_continue", "127.0.0.1:18092", {{Method::kPost, "/upload", 201, 2000, 15}}},
      {"python_query", "127.0.0.1:18092", {{Method::kGet, "/index.txt", 200, 0, 28}}},
  };
  return cases;
}

std::vector<Exchange> Want(const Case& c, Role role) {
  std::vector<Exchange> out;
  for (const Expected& e : c.exchanges) {
    out.push_back(Exchange{.role = role,
                           .method = e.method,
                           .path = e.path,
                           .host = c.host,
                           .status = e.status,
                           .request_body_bytes = e.request_body,
                           .response_body_bytes = e.response_body,
                           .request_start_ns = kRequestTs,
                           .response_first_byte_ns = kResponseTs,
                           .response_last_byte_ns = kResponseTs});
  }
  return out;
}

std::vector<size_t> EveryByte(size_t size) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < size; ++i) cuts.push_back(i);
  return cuts;
}

// Requests in the calls of `requests`, then responses, then close; in the directions of role.
testing::Outcome Play(Role role, const std::string& request,
                      const std::vector<size_t>& request_cuts, const std::string& response,
                      const std::vector<size_t>& response_cuts) {
  const Direction in = role == Role::kServer ? Direction::kRead : Direction::kWrite;
  const Direction out = role == Role::kServer ? Direction::kWrite : Direction::kRead;
  std::vector<Call> calls = Cut(in, kRequestTs, request, request_cuts);
  for (Call& call : Cut(out, kResponseTs, response, response_cuts)) calls.push_back(call);
  return Run(calls, kCloseTs);
}

TEST_CASE("every fixture, whole and cut at every byte, gives its exchanges", "[http]") {
  for (const Case& c : Cases()) {
    const std::string request = Fixture(c.fixture + ".request");
    const std::string response = Fixture(c.fixture + ".response");
    for (const Role role : {Role::kServer, Role::kClient}) {
      INFO(c.fixture << " as " << RoleName(role));
      const std::vector<Exchange> want = Want(c, role);
      const auto check = [&](const testing::Outcome& got) {
        REQUIRE(got.exchanges == want);
        REQUIRE(TotalErrors(got.counters) == 0);
        REQUIRE(got.counters.unmatched_responses == 0);
        REQUIRE(got.counters.unanswered_requests == 0);
      };
      check(Play(role, request, {}, response, {}));
      // 1-byte segments, both directions.
      check(Play(role, request, EveryByte(request.size()), response, EveryByte(response.size())));
      for (size_t cut = 1; cut < request.size(); ++cut) {
        INFO("request cut at " << cut);
        check(Play(role, request, {cut}, response, {}));
      }
      for (size_t cut = 1; cut < response.size(); ++cut) {
        INFO("response cut at " << cut);
        check(Play(role, request, {}, response, {cut}));
      }
      // Two cuts at once, walking both ends.
      for (size_t cut = 1; cut + 1 < response.size(); cut += 7) {
        INFO("cuts at " << cut % request.size() << " and " << cut);
        check(Play(role, request, {1 + cut % (request.size() - 1)}, response, {cut, cut + 1}));
      }
    }
  }
}

TEST_CASE("the pipelined fixture: 3 requests in one segment, 3 responses in one read", "[http]") {
  const std::string request = Fixture("nginx_pipelined.request");
  const std::string response = Fixture("nginx_pipelined.response");
  const auto got = Run({{Direction::kWrite, 10, request}, {Direction::kRead, 20, response}}, 30);
  REQUIRE(got.exchanges.size() == 3);
  CHECK(got.exchanges[0].role == Role::kClient);
  CHECK(got.exchanges[1].path == "/gone");
  CHECK(got.exchanges[1].status == 404);
  CHECK(got.exchanges[2].status == 204);
}

TEST_CASE("times: first byte of the request, first and last byte of the final response", "[http]") {
  const std::string request = Fixture("python_continue.request");
  const std::string response = Fixture("python_continue.response");
  const size_t headers = request.find("\r\n\r\n") + 4;
  const size_t interim = response.find("\r\n\r\n") + 4;  // "HTTP/1.1 100 Continue\r\n\r\n"
  const size_t final_split = response.size() - 5;
  SECTION("server: 100-continue interleaved as it happens") {
    const auto got = Run({{Direction::kRead, 100, request.substr(0, 10)},
                          {Direction::kRead, 110, request.substr(10, headers - 10)},
                          {Direction::kWrite, 120, response.substr(0, interim)},
                          {Direction::kRead, 130, request.substr(headers)},
                          {Direction::kWrite, 140, response.substr(interim, final_split - interim)},
                          {Direction::kWrite, 150, response.substr(final_split)}},
                         160);
    REQUIRE(got.exchanges.size() == 1);
    const Exchange& e = got.exchanges[0];
    CHECK(e.role == Role::kServer);
    CHECK(e.status == 201);
    CHECK(e.request_body_bytes == 2000);
    CHECK(e.response_body_bytes == 15);
    CHECK(e.request_start_ns == 100);
    CHECK(e.response_first_byte_ns == 140);  // the 100 Continue is not the response
    CHECK(e.response_last_byte_ns == 150);
    CHECK(TotalErrors(got.counters) == 0);
  }
  SECTION("client: the close-delimited body ends with its last data, not at close") {
    const std::string close_response = Fixture("python_close.response");
    const auto got = Run({{Direction::kWrite, 5, Fixture("python_close.request")},
                          {Direction::kRead, 7, close_response.substr(0, 50)},
                          {Direction::kRead, 9, close_response.substr(50)}},
                         99);
    REQUIRE(got.exchanges.size() == 1);
    CHECK(got.exchanges[0].request_start_ns == 5);
    CHECK(got.exchanges[0].response_first_byte_ns == 7);
    CHECK(got.exchanges[0].response_last_byte_ns == 9);
    CHECK(got.exchanges[0].response_body_bytes == 170);
  }
  SECTION("without the close, a close-delimited response is not complete") {
    const auto got = Run({{Direction::kWrite, 5, Fixture("python_close.request")},
                          {Direction::kRead, 7, Fixture("python_close.response")}});
    CHECK(got.exchanges.empty());
  }
}

TEST_CASE("truncated captures: inside the headers an error and a resync, inside a body fine",
          "[http]") {
  const std::string request = Fixture("nginx_get.request");
  const std::string response = Fixture("nginx_get.response");
  const long response_headers = static_cast<long>(response.find("\r\n\r\n") + 4);
  SECTION("a start line cut in a connection's first message: not in sync yet, not an error") {
    const auto got = Run({{Direction::kRead, 1, request, 20},
                          {Direction::kWrite, 2, response},
                          {Direction::kRead, 3, request},
                          {Direction::kWrite, 4, response}},
                         5);
    CHECK(TotalErrors(got.counters) == 0);
    CHECK(got.counters.unmatched_responses == 1);
    REQUIRE(got.exchanges.size() == 1);
    CHECK(got.exchanges[0].request_start_ns == 3);
  }
  SECTION("request headers cut: counted, its response dropped, the next exchange is whole") {
    const auto got = Run({{Direction::kRead, 1, request, 30},
                          {Direction::kWrite, 2, response},
                          {Direction::kRead, 3, request},
                          {Direction::kWrite, 4, response}},
                         5);
    CHECK(got.counters.errors(ParseError::kTruncated) == 1);
    CHECK(TotalErrors(got.counters) == 1);
    CHECK(got.counters.unmatched_responses == 0);  // it had a request: one not parsed
    REQUIRE(got.exchanges.size() == 1);
    CHECK(got.exchanges[0].request_start_ns == 3);
    CHECK(got.exchanges[0].response_body_bytes == 28);
  }
  SECTION("response headers cut: counted, its request dropped, the next exchange is whole") {
    const auto got = Run({{Direction::kRead, 1, request},
                          {Direction::kWrite, 2, response, response_headers - 3},
                          {Direction::kRead, 3, request},
                          {Direction::kWrite, 4, response}},
                         5);
    CHECK(got.counters.errors(ParseError::kTruncated) == 1);
    CHECK(TotalErrors(got.counters) == 1);
    REQUIRE(got.exchanges.size() == 1);
    CHECK(got.exchanges[0].request_start_ns == 3);
    CHECK(got.counters.unanswered_requests == 0);
    CHECK(got.counters.unmatched_responses == 0);
  }
  SECTION("body not copied (the capture's prefix, or sendfile's empty bytes): counted by length") {
    const auto got = Run({{Direction::kRead, 1, request},
                          {Direction::kWrite, 2, response.substr(0, response_headers)},
                          {Direction::kWrite, 3, response.substr(response_headers), 0},
                          {Direction::kRead, 4, request},
                          {Direction::kWrite, 5, response, response_headers + 1}},
                         6);
    CHECK(TotalErrors(got.counters) == 0);
    REQUIRE(got.exchanges.size() == 2);
    CHECK(got.exchanges[0].response_body_bytes == 28);
    CHECK(got.exchanges[0].response_last_byte_ns == 3);
    CHECK(got.exchanges[1].response_body_bytes == 28);
  }
  SECTION("chunk data not copied, the next chunk-size line at a segment start: fine") {
    const auto got =
        Run({{Direction::kRead, 1, "GET /c HTTP/1.1\r\nHost: h\r\n\r\n"},
             {Direction::kWrite, 2,
              "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", 52},
             {Direction::kWrite, 3, "3\r\nabc\r\n0\r\n\r\n"}},
            4);
    CHECK(TotalErrors(got.counters) == 0);
    REQUIRE(got.exchanges.size() == 1);
    CHECK(got.exchanges[0].response_body_bytes == 8);
  }
  const std::string framed_past_copy =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n";
  SECTION("a chunk-size line not copied, the call's tail shows the last chunk: skimmed") {
    const auto got = Run({{Direction::kRead, 1, "GET /c HTTP/1.1\r\nHost: h\r\n\r\n"},
                          {Direction::kWrite, 2, framed_past_copy, 62, true}},
                         4);
    CHECK(TotalErrors(got.counters) == 0);
    CHECK(got.counters.chunk_framing_lost == 1);
    REQUIRE(got.exchanges.size() == 1);
    CHECK(got.exchanges[0].response_body_bytes == 8);
    CHECK(got.exchanges[0].response_last_byte_ns == 2);
  }
  SECTION("a chunk-size line not copied and no tail: incomplete at close") {
    const auto got = Run({{Direction::kRead, 1, "GET /c HTTP/1.1\r\nHost: h\r\n\r\n"},
                          {Direction::kWrite, 2, framed_past_copy, 62}},
                         4);
    CHECK(got.counters.chunk_framing_lost == 1);
    CHECK(got.counters.errors(ParseError::kIncomplete) == 1);
    CHECK(got.exchanges.empty());
  }
  SECTION("skimmed: the last chunk in a later call") {
    const auto got = Run({{Direction::kRead, 1, "GET /c HTTP/1.1\r\nHost: h\r\n\r\n"},
                          {Direction::kWrite, 2, framed_past_copy.substr(0, 70 - 5), 62, true},
                          {Direction::kWrite, 3, "0\r\n\r\n"}},
                         4);
    CHECK(TotalErrors(got.counters) == 0);
    REQUIRE(got.exchanges.size() == 1);
    CHECK(got.exchanges[0].response_last_byte_ns == 3);
  }
}

TEST_CASE("malformed input is counted by reason, and the parser resynchronises", "[http]") {
  const std::string good_request = "GET /ok HTTP/1.1\r\nHost: h\r\n\r\n";
  const std::string good_response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  // after_head: the request was queued before the error; the 400 then answers it.
  const auto check = [&](const std::string& bad_request, ParseError reason,
                         bool after_head = false) {
    INFO(bad_request.substr(0, 60));
    // The server answers the bad request (400): that response is dropped with its request.
    const auto got =
        Run({{Direction::kRead, 1, good_request},
             {Direction::kWrite, 2, good_response},
             {Direction::kRead, 3, bad_request},
             {Direction::kWrite, 3, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"},
             {Direction::kRead, 4, good_request},
             {Direction::kWrite, 5, good_response}},
            6);
    CHECK(got.counters.errors(reason) == 1);
    CHECK(TotalErrors(got.counters) == 1);
    CHECK(got.counters.unmatched_responses == 0);
    REQUIRE(got.exchanges.size() == (after_head ? 3 : 2));
    if (after_head) CHECK(got.exchanges[1].status == 400);
    CHECK(got.exchanges.back().request_start_ns == 4);
    CHECK(got.exchanges.back().path == "/ok");
  };
  check("GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", ParseError::kContentLength);
  check("GET / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
        ParseError::kContentLength);
  check("GET / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
        ParseError::kContentLength);
  check("GET / HTTP/1.1\r\nno colon here\r\n\r\n", ParseError::kHeader);
  check("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", ParseError::kHeader);
  check("GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", ParseError::kTransferEncoding);
  check("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", ParseError::kChunk, true);
  check("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX", ParseError::kChunk, true);
  check("GET / HTTP/2.0\r\n\r\n", ParseError::kStartLine);
  check("GET  HTTP/1.1\r\n\r\n", ParseError::kStartLine);
  check("\x01\x02 binary", ParseError::kStartLine);
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 101; ++i) many += "X-A: b\r\n";
  check(many + "\r\n", ParseError::kTooManyHeaders);
  check("GET / HTTP/1.1\r\nX-Big: " + std::string(16 * 1024, 'a') + "\r\n\r\n",
        ParseError::kHeaderTooLarge);
}

TEST_CASE("a connection watched mid-stream counts from its first complete request", "[http]") {
  const auto got = Run({{Direction::kRead, 1, "the rest of a body from before netlens"},
                        {Direction::kWrite, 2, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"},
                        {Direction::kRead, 3, "GET /a HTTP/1.1\r\n\r\n"},
                        {Direction::kWrite, 4, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"}},
                       5);
  CHECK(TotalErrors(got.counters) == 0);  // out of sync, nothing is an error
  CHECK(got.counters.unmatched_responses == 1);
  REQUIRE(got.exchanges.size() == 1);
  CHECK(got.exchanges[0].role == Role::kServer);
  CHECK(got.exchanges[0].path == "/a");
  CHECK(got.exchanges[0].host.empty());
}

TEST_CASE("requests pending at close are unanswered; a body cut by close is incomplete", "[http]") {
  SECTION("unanswered") {
    const auto got =
        Run({{Direction::kWrite, 1, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"}}, 2);
    CHECK(got.counters.unanswered_requests == 2);
    CHECK(got.exchanges.empty());
  }
  SECTION("incomplete") {
    const auto got = Run({{Direction::kWrite, 1, "GET /a HTTP/1.1\r\n\r\n"},
                          {Direction::kRead, 2, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc"}},
                         3);
    CHECK(got.counters.errors(ParseError::kIncomplete) == 1);
    CHECK(got.counters.unanswered_requests == 0);
    CHECK(got.exchanges.empty());
  }
}

TEST_CASE("the pending queue is bounded; exchanges after an overflow still pair", "[http]") {
  const auto got = Run({{Direction::kRead, 1,
                         "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n"},
                        {Direction::kWrite, 2,
                         "HTTP/1.1 201 A\r\nContent-Length: 0\r\n\r\n"
                         "HTTP/1.1 202 B\r\nContent-Length: 0\r\n\r\n"
                         "HTTP/1.1 203 C\r\nContent-Length: 0\r\n\r\n"},
                        {Direction::kRead, 3, "GET /4 HTTP/1.1\r\n\r\n"},
                        {Direction::kWrite, 4, "HTTP/1.1 204 D\r\n\r\n"}},
                       5, StitcherLimits{.max_pending = 2});
  CHECK(got.counters.pending_overflow == 1);
  CHECK(got.counters.unmatched_responses == 0);
  REQUIRE(got.exchanges.size() == 3);
  CHECK(got.exchanges[0].path == "/1");
  CHECK(got.exchanges[0].status == 201);
  CHECK(got.exchanges[1].path == "/2");
  CHECK(got.exchanges[1].status == 202);
  CHECK(got.exchanges[2].path == "/4");
  CHECK(got.exchanges[2].status == 204);
}

TEST_CASE("targets, methods and versions", "[http]") {
  const auto one = [](const std::string& request) {
    const auto got = Run({{Direction::kRead, 1, request},
                          {Direction::kWrite, 2, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"}},
                         3);
    REQUIRE(TotalErrors(got.counters) == 0);
    REQUIRE(got.exchanges.size() == 1);
    return got.exchanges[0];
  };
  const Exchange absolute =
      one("GET http://user@example.com:8080/a/b?x=1#f HTTP/1.1\r\n"
          "Host: other\r\n\r\n");
  CHECK(absolute.path == "/a/b");
  CHECK(absolute.host == "example.com:8080");
  CHECK(one("GET http://example.com HTTP/1.1\r\n\r\n").path == "/");
  CHECK(one("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n").path == "*");
  CHECK(one("PROPFIND /dav HTTP/1.1\r\n\r\n").method == Method::kOther);
  CHECK(one("get /lower HTTP/1.1\r\n\r\n").method == Method::kOther);
  CHECK(one("PATCH /p HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc").request_body_bytes == 3);
  CHECK(one("GET /lf HTTP/1.1\nHost: lf-only\n\n").host == "lf-only");
  CHECK(one("\r\nGET /after-crlf HTTP/1.1\r\n\r\n").path == "/after-crlf");
  CHECK(one("GET /" + std::string(2000, 'p') + " HTTP/1.1\r\n\r\n").path.size() == kMaxPathBytes);
  CHECK(MethodName(Method::kOther) == "_OTHER");
  CHECK(MethodName(MethodOf("DELETE")) == "DELETE");
}

TEST_CASE("after 101 or a CONNECT tunnel the connection is no longer parsed", "[http]") {
  SECTION("upgrade") {
    const auto got =
        Run({{Direction::kRead, 1, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"},
             {Direction::kWrite, 2, "HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x05"},
             {Direction::kRead, 3, "\x81\x85 frames"},
             {Direction::kWrite, 4, "GET / HTTP/1.1\r\n\r\n"}},
            5);
    CHECK(TotalErrors(got.counters) == 0);
    REQUIRE(got.exchanges.size() == 1);
    CHECK(got.exchanges[0].status == 101);
  }
  SECTION("connect") {
    const auto got = Run({{Direction::kWrite, 1, "CONNECT example.com:443 HTTP/1.1\r\n\r\n"},
                          {Direction::kRead, 2, "HTTP/1.1 200 Connection established\r\n\r\n"},
                          {Direction::kWrite, 3, "\x16\x03\x01 client hello"},
                          {Direction::kRead, 4, "HTTP/1.1 200 OK\r\n\r\n"}},
                         5);
    CHECK(TotalErrors(got.counters) == 0);
    REQUIRE(got.exchanges.size() == 1);
    CHECK(got.exchanges[0].method == Method::kConnect);
    CHECK(got.exchanges[0].path.empty());
    CHECK(got.exchanges[0].host == "example.com:443");
    CHECK(got.counters.unmatched_responses == 0);
  }
}

TEST_CASE("a request where responses flow is counted once the role is known", "[http]") {
  const auto got = Run({{Direction::kRead, 1, "GET /a HTTP/1.1\r\n\r\n"},
                        {Direction::kWrite, 2, "GET /b HTTP/1.1\r\n\r\n"}},
                       3);
  CHECK(got.counters.errors(ParseError::kDirection) == 1);
  CHECK(got.counters.unanswered_requests == 1);
}

}  // namespace
}  // namespace netlens::http
