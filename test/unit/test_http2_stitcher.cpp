// The HTTP/2 stitcher (daemon/http2/http2_stitcher.h) on a real gRPC session recorded from
// Debian's python3-grpcio (test/unit/http2_fixtures/grpc_session.txt, made by record_grpc.py and
// checked by check_grpc_session.py with python3-hyperframe and python3-hpack): one exchange per
// call with its method, grpc-status and body bytes, from either side, whatever the calls'
// boundaries and however few bytes the capture copied; watched mid-stream; reset streams.
#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "http2/http2_stitcher.h"
#include "recorded_session.h"

namespace netlens::http2 {
namespace {

using Call = testing::RecordedCall;

std::vector<Call> GrpcSession() {
  return testing::RecordedSession(std::string(NETLENS_HTTP2_FIXTURES_DIR) + "/grpc_session.txt");
}

std::string Describe(const Exchange& e) {
  return e.path + " grpc " + std::to_string(e.grpc_status) + " status " + std::to_string(e.status) +
         " bytes " + std::to_string(e.request_body_bytes) + "/" +
         std::to_string(e.response_body_bytes) + (e.reset ? " reset" : "");
}

// The calls as check_grpc_session.py decodes them (DATA bytes with gRPC's 5-byte prefix),
// in the order their responses end: the four concurrent Slow calls are sorted.
const std::vector<std::string> kGrpcSession = {
    "/netlens.test.Echo/Unary grpc 0 status 200 bytes 10/10",
    "/netlens.test.Echo/Unary grpc 0 status 200 bytes 10/10",
    "/netlens.test.Echo/Unary grpc 0 status 200 bytes 10/10",
    "/netlens.test.Echo/Fail grpc 5 status 200 bytes 6/0",
    "/netlens.test.Echo/Fail grpc 5 status 200 bytes 6/0",
    "/netlens.test.Echo/Fail grpc 3 status 200 bytes 6/0",
    "/netlens.test.Echo/Stream grpc 0 status 200 bytes 6/75",
    "/netlens.test.Echo/Unary grpc 0 status 200 bytes 100005/100005",
    "/netlens.test.Echo/Slow grpc 0 status 200 bytes 10/10",
    "/netlens.test.Echo/Slow grpc 0 status 200 bytes 10/10",
    "/netlens.test.Echo/Slow grpc 0 status 200 bytes 10/10",
    "/netlens.test.Echo/Slow grpc 0 status 200 bytes 10/10",
};

struct Run {
  std::vector<std::string> exchanges;
  std::vector<Exchange> raw;
  Counters counters;
  Role role = Role::kUnknown;
  size_t open = 0;
};

struct FeedOptions {
  size_t split = 0;          // each call split in two there (0: whole)
  size_t copied = SIZE_MAX;  // bytes of each call the capture copied
  size_t tail = 0;           // ... and its last bytes
  bool server = false;       // seen from the server
  size_t first = 0;          // the first call fed (later: watched mid-stream)
};

// Call i at ts (i + 1) * 1000; then a close.
Run Feed(const std::vector<Call>& calls, const FeedOptions& options = {}) {
  Run run;
  Stitcher stitcher(run.counters);
  std::vector<Exchange> out;
  const auto feed = [&](http::Direction direction, std::string_view bytes, uint64_t ts) {
    std::string_view copied = bytes.substr(0, options.copied), tail;
    if (copied.size() < bytes.size() && options.tail > 0)
      tail = bytes.substr(bytes.size() - std::min(options.tail, bytes.size() - copied.size()));
    stitcher.OnSegment(http::Segment{direction, ts, bytes.size(), copied, tail}, out);
  };
  for (size_t i = options.first; i < calls.size(); ++i) {
    http::Direction direction = calls[i].direction;
    if (options.server) {
      direction =
          direction == http::Direction::kWrite ? http::Direction::kRead : http::Direction::kWrite;
    }
    const std::string_view bytes = calls[i].bytes;
    const uint64_t ts = (i + 1) * 1000;
    if (options.split > 0 && options.split < bytes.size()) {
      feed(direction, bytes.substr(0, options.split), ts);
      feed(direction, bytes.substr(options.split), ts);
    } else {
      feed(direction, bytes, ts);
    }
  }
  run.open = stitcher.open_streams();
  stitcher.OnClose(calls.size() * 1000 + 1000, out);
  for (const Exchange& e : out) run.exchanges.push_back(Describe(e));
  std::sort(run.exchanges.end() - std::min<size_t>(4, run.exchanges.size()), run.exchanges.end());
  run.raw = out;
  run.role = stitcher.role();
  return run;
}

bool NoEvents(const Counters& c) {
  return c.joined_midstream == 0 && c.unknown_fields == 0 && c.framing_lost == 0 &&
         c.resynced == 0 && c.header_blocks_lost == 0 && c.streams_reset == 0 &&
         c.streams_over_limit == 0 && c.streams_dropped == 0 && c.unanswered == 0 &&
         c.protocol_errors == 0 && c.type_unknown == 0 && c.status_unknown == 0;
}

TEST_CASE("http2: a gRPC session gives one exchange per call, exact", "[http2]") {
  const std::vector<Call> calls = GrpcSession();
  const Run run = Feed(calls);
  CHECK(run.role == Role::kClient);
  CHECK(run.exchanges == kGrpcSession);
  CHECK(NoEvents(run.counters));
  CHECK(run.open == 0);
  REQUIRE(run.raw.size() == kGrpcSession.size());
  for (const Exchange& e : run.raw) {
    CHECK(e.grpc);
    CHECK(e.known);
    CHECK(e.method == http::Method::kPost);
    CHECK(e.role == Role::kClient);
    CHECK(e.authority.starts_with("127.0.0.1:"));
    CHECK(e.stream_id % 2 == 1);
    CHECK(e.request_start_ns > 0);
    CHECK(e.request_start_ns <= e.response_first_byte_ns);
    CHECK(e.response_first_byte_ns <= e.response_end_ns);
  }
  // Streams 1, 3, 5, ... in the order of the plan; the concurrent four overlap.
  CHECK(run.raw[0].stream_id == 1);
  CHECK(run.raw[7].stream_id == 15);
  uint64_t latest_start = 0, earliest_end = UINT64_MAX;
  for (size_t i = 8; i < 12; ++i) {
    latest_start = std::max(latest_start, run.raw[i].request_start_ns);
    earliest_end = std::min(earliest_end, run.raw[i].response_end_ns);
  }
  CHECK(latest_start < earliest_end);
}

TEST_CASE("http2: the server's side of the same session gives the same exchanges", "[http2]") {
  FeedOptions options;
  options.server = true;
  const Run run = Feed(GrpcSession(), options);
  CHECK(run.role == Role::kServer);
  CHECK(run.exchanges == kGrpcSession);
  CHECK(NoEvents(run.counters));
  for (const Exchange& e : run.raw) CHECK(e.role == Role::kServer);
}

TEST_CASE("http2: calls split anywhere give the same exchanges", "[http2]") {
  const std::vector<Call> calls = GrpcSession();
  for (size_t split = 1; split < 1200; ++split) {
    FeedOptions options;
    options.split = split;
    const Run run = Feed(calls, options);
    INFO("split " << split);
    CHECK(run.exchanges == kGrpcSession);
    CHECK(NoEvents(run.counters));
  }
}

TEST_CASE("http2: the capture's copy limits: a large response loses its framing, counted",
          "[http2]") {
  // DATA payloads are skipped by their length, and every header block is within the first
  // bytes of its call, but the server sends the 100,005-byte response as 16,384-byte DATA
  // frames (the client allowed no larger) read 65,536 bytes a call: a frame header falls in
  // the uncopied bytes. The trailers are found again in the call's last 16 bytes (the
  // capture's tail), but the server's HPACK table is unknown from then on: that call's
  // grpc-status and the later ones, which refer to entries inserted before, are unknown, and
  // the response bytes after the loss are not counted. Nothing is guessed.
  std::vector<std::string> expected = kGrpcSession;
  expected[7] = "/netlens.test.Echo/Unary grpc -1 status 200 bytes 100005/16384";
  for (size_t i = 8; i < 12; ++i)
    expected[i] = "/netlens.test.Echo/Slow grpc -1 status 200 bytes 10/10";
  const std::vector<Call> calls = GrpcSession();
  for (const size_t copied : {512, 1024}) {
    FeedOptions options;
    options.copied = copied;
    options.tail = 16;
    const Run run = Feed(calls, options);
    INFO("copied " << copied);
    CHECK(run.exchanges == expected);
    CHECK(run.counters.framing_lost == 1);
    CHECK(run.counters.resynced == 1);
    Counters rest = run.counters;
    rest.framing_lost = rest.resynced = 0;
    CHECK(NoEvents(rest));
  }
  // The whole call copied (the kernel's frame-header copy, not built yet, would give this):
  // exact.
  FeedOptions whole;
  whole.copied = 65536;
  CHECK(Feed(calls, whole).exchanges == kGrpcSession);
}

TEST_CASE("http2: bytes not copied lose the framing, counted, and it is found again", "[http2]") {
  const std::vector<Call> calls = GrpcSession();
  FeedOptions options;
  options.copied = 16;  // most frame headers and header blocks are not copied
  const Run run = Feed(calls, options);
  CHECK(run.counters.framing_lost > 0);
  CHECK(run.counters.resynced > 0);
  CHECK(run.counters.header_blocks_lost > 0);
  // Nothing is invented: every exchange's fields are ones the session has, or unknown.
  for (const Exchange& e : run.raw) {
    CHECK((e.path == kUnknownPath || e.path.starts_with("/netlens.test.Echo/")));
    CHECK((e.grpc_status == -1 || e.grpc_status == 0 || e.grpc_status == 3 || e.grpc_status == 5));
  }
  CHECK(run.raw.size() + run.counters.streams_dropped + run.counters.unanswered <=
        kGrpcSession.size());
}

TEST_CASE("http2: a connection watched mid-stream counts what it can know, never guesses",
          "[http2]") {
  const std::vector<Call> calls = GrpcSession();
  // From the first call after the three Unary ones' requests: the HPACK tables are unknown.
  size_t first = 0;
  for (size_t i = 0, requests = 0; i < calls.size(); ++i) {
    if (calls[i].direction == http::Direction::kWrite && calls[i].bytes[3] == kHeaders &&
        ++requests == 4) {
      first = i;
      break;
    }
  }
  REQUIRE(first > 0);
  FeedOptions options;
  options.first = first;
  const Run run = Feed(calls, options);
  CHECK(run.counters.joined_midstream == 1);
  CHECK(run.role == Role::kClient);
  // The nine calls from the fourth on, each counted: the path where the block spelled it out
  // or referred to an entry inserted since, else kUnknownPath.
  CHECK(run.raw.size() == 9);
  for (const Exchange& e : run.raw) {
    CHECK((e.path == kUnknownPath || e.path.starts_with("/netlens.test.Echo/")));
    if (e.path == kUnknownPath) CHECK_FALSE(e.known);
  }
  CHECK(run.counters.unknown_fields ==
        static_cast<uint64_t>(std::count_if(run.raw.begin(), run.raw.end(),
                                            [](const Exchange& e) { return !e.known; })));
  CHECK(run.counters.framing_lost == 0);
  // The Fail calls' paths and statuses were literals inserted after netlens joined: exact. The
  // large Unary's path and the OK statuses refer to entries inserted before: unknown.
  CHECK(run.exchanges == std::vector<std::string>{
                             "/netlens.test.Echo/Fail grpc 5 status 200 bytes 6/0",
                             "/netlens.test.Echo/Fail grpc 5 status 200 bytes 6/0",
                             "/netlens.test.Echo/Fail grpc 3 status 200 bytes 6/0",
                             "/netlens.test.Echo/Stream grpc -1 status 200 bytes 6/75",
                             "/{unknown} grpc -1 status 200 bytes 100005/100005",
                             "/netlens.test.Echo/Slow grpc -1 status 200 bytes 10/10",
                             "/netlens.test.Echo/Slow grpc -1 status 200 bytes 10/10",
                             "/netlens.test.Echo/Slow grpc -1 status 200 bytes 10/10",
                             "/netlens.test.Echo/Slow grpc -1 status 200 bytes 10/10",
                         });
  CHECK(run.counters.unknown_fields == 1);
}

// A frame: 9-byte header and payload.
std::string FrameOf(uint8_t type, uint8_t flags, uint32_t stream, std::string_view payload) {
  std::string frame;
  const uint32_t n = payload.size();
  frame += static_cast<char>(n >> 16);
  frame += static_cast<char>(n >> 8);
  frame += static_cast<char>(n);
  frame += static_cast<char>(type);
  frame += static_cast<char>(flags);
  frame += static_cast<char>(stream >> 24);
  frame += static_cast<char>(stream >> 16);
  frame += static_cast<char>(stream >> 8);
  frame += static_cast<char>(stream);
  return frame + std::string(payload);
}

// HPACK without state: :method POST, :scheme http, :path from the static table's name, and
// content-type application/grpc, literals without indexing (RFC 7541 6.2.2).
std::string GrpcRequestBlock(std::string_view path) {
  std::string block = "\x83\x86";
  block += '\x04';  // :path (static 4), literal without indexing
  block += static_cast<char>(path.size());
  block += path;
  block += "\x0f\x10";  // content-type (static 31)
  block += static_cast<char>(16);
  block += "application/grpc";
  return block;
}

TEST_CASE("http2: a reset stream ends with gRPC's status for the error code", "[http2]") {
  Counters counters;
  Stitcher stitcher(counters);
  std::vector<Exchange> out;
  const auto write = [&](const std::string& bytes, uint64_t ts) {
    stitcher.OnSegment(http::Segment{http::Direction::kWrite, ts, bytes.size(), bytes, {}}, out);
  };
  write(std::string(kPreface) + FrameOf(kSettings, 0, 0, ""), 1);
  write(FrameOf(kHeaders, kEndHeaders, 1, GrpcRequestBlock("/a.B/C")) +
            FrameOf(kHeaders, kEndHeaders, 3, GrpcRequestBlock("/a.B/D")),
        2);
  write(FrameOf(kRstStream, 0, 1, std::string("\0\0\0\x08", 4)), 5);  // CANCEL
  write(FrameOf(kRstStream, 0, 3, std::string("\0\0\0\x07", 4)), 6);  // REFUSED_STREAM
  REQUIRE(out.size() == 2);
  CHECK(Describe(out[0]) == "/a.B/C grpc 1 status 0 bytes 0/0 reset");
  CHECK(Describe(out[1]) == "/a.B/D grpc 14 status 0 bytes 0/0 reset");
  CHECK(out[0].request_start_ns == 2);
  CHECK(out[0].response_end_ns == 5);
  CHECK(counters.streams_reset == 2);
  CHECK(stitcher.role() == Role::kClient);
}

TEST_CASE("http2: at most kMaxStreams streams are followed at once", "[http2]") {
  Counters counters;
  Stitcher stitcher(counters);
  std::vector<Exchange> out;
  std::string bytes = std::string(kPreface) + FrameOf(kSettings, 0, 0, "");
  for (uint32_t i = 0; i < Stitcher::kMaxStreams + 5; ++i)
    bytes += FrameOf(kHeaders, kEndHeaders, 2 * i + 1, GrpcRequestBlock("/a.B/C"));
  stitcher.OnSegment(http::Segment{http::Direction::kWrite, 1, bytes.size(), bytes, {}}, out);
  CHECK(stitcher.open_streams() == Stitcher::kMaxStreams);
  CHECK(counters.streams_over_limit == 5);
  stitcher.OnClose(2, out);
  CHECK(counters.unanswered == Stitcher::kMaxStreams);
  CHECK(out.empty());
}

TEST_CASE("http2: CONTINUATION frames join a header block; out of place, counted", "[http2]") {
  Counters counters;
  Stitcher stitcher(counters);
  std::vector<Exchange> out;
  const std::string block = GrpcRequestBlock("/a.B/C");
  std::string bytes = std::string(kPreface) + FrameOf(kHeaders, 0, 1, block.substr(0, 3)) +
                      FrameOf(kContinuation, 0, 1, block.substr(3, 5)) +
                      FrameOf(kContinuation, kEndHeaders, 1, block.substr(8));
  bytes += FrameOf(kContinuation, kEndHeaders, 3, "\x83");  // no block open
  stitcher.OnSegment(http::Segment{http::Direction::kWrite, 1, bytes.size(), bytes, {}}, out);
  CHECK(stitcher.open_streams() == 1);
  CHECK(counters.protocol_errors == 1);
  CHECK(counters.unknown_fields == 0);
}

}  // namespace
}  // namespace netlens::http2
