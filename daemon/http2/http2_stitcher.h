// Pairs the requests and responses of one HTTP/2 connection into exchanges, one per stream
// (http2_protocol.h), both directions fed in the order the capture saw them (http/segment.h).
//
// - Role: the side that writes the client preface is the client; a connection whose first call
//   is the server's SETTINGS (a server writing before it read the preface) waits for the
//   preface the other way. A connection first seen without either was watched mid-stream
//   (joined_midstream): both HPACK tables are unknown from the start (HpackDecoder::Forget),
//   and the role comes from the first header block that says it (:method or :status, which
//   the static table encodes without state).
// - Every header block (HEADERS, PUSH_PROMISE, CONTINUATION) is decoded, in order, by the
//   HPACK decoder of its direction, whether its stream is followed or not: the tables stay
//   exact. A block not copied whole makes its table unknown (header_blocks_lost); a request
//   whose :method or :path is not known is counted under kUnknownPath (unknown_fields), never
//   guessed.
// - A stream opens at the client's HEADERS and ends at the server's END_STREAM (or either
//   side's RST_STREAM); interim 1xx responses are skipped. At most kMaxStreams are open at once
//   (beyond: streams_over_limit, not followed). gRPC's status is the trailers' grpc-status, or
//   for a reset stream the one gRPC's HTTP/2 mapping gives the RST_STREAM error code.
// - gRPC or not: a stream's content-type (or grpc-status) says; a stream of a connection joined
//   mid-stream whose fields do not (they referred to unknown HPACK state) takes the kind of the
//   connection's first stream that does, and waits for it (kMaxUndecided).
// - Framing lost in a direction (FrameReader) makes its HPACK table unknown; the open streams
//   stay open and end if their END_STREAM shows after the resync; those still open at the
//   close count streams_dropped (else unanswered).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "http/segment.h"
#include "http2/frame_reader.h"
#include "http2/hpack.h"
#include "http2/http2_protocol.h"

namespace netlens::http2 {

class Stitcher {
 public:
  static constexpr size_t kMaxStreams = 1024;
  static constexpr size_t kMaxHeaderBlock = 65536;
  // Streams of a connection joined mid-stream whose type (gRPC or not) their fields did not
  // tell wait for the connection's first stream that does; at most this many, then (and at
  // the close) they are counted as plain HTTP/2 requests (type_unknown).
  static constexpr size_t kMaxUndecided = 256;

  explicit Stitcher(Counters& counters) : counters_(counters) {}
  Stitcher(const Stitcher&) = delete;
  Stitcher& operator=(const Stitcher&) = delete;

  void OnSegment(const http::Segment& segment, std::vector<Exchange>& out);
  // Streams still open are counted (unanswered, or streams_dropped after a framing loss).
  void OnClose(uint64_t ts_ns, std::vector<Exchange>& out);
  Role role() const { return role_; }
  size_t open_streams() const { return streams_.size(); }

 private:
  struct Stream {
    Exchange exchange;
    bool lost = false;        // framing was lost while it was open
    bool type_known = false;  // whether it is gRPC is known (its fields said so, or all known)
  };
  // Whether the connection carries gRPC: decided by its first stream whose type is known.
  enum class Kind : uint8_t { kUndecided, kGrpc, kHttp };
  // A header block being gathered from HEADERS/PUSH_PROMISE and CONTINUATION frames.
  struct Block {
    bool open = false;
    uint8_t type = 0;  // kHeaders or kPushPromise
    uint32_t stream = 0;
    bool end_stream = false;
    bool whole = true;  // every fragment was copied
    std::string bytes;
    uint64_t start_ns = 0;
  };
  // The fields of a header block that the stitcher uses.
  struct Fields {
    std::string method, path, authority, content_type;
    int status = -1, grpc_status = -1;
    bool known = true;                              // every field was known
    bool method_known = false, path_known = false;  // present and known
    bool status_known = false, grpc_status_known = false;
  };

  // One direction's frames (FrameReader::Sink).
  struct DirectionSink final : FrameReader::Sink {
    Stitcher* stitcher = nullptr;
    http::Direction direction = http::Direction::kRead;
    void OnFrame(const Frame& frame) override { stitcher->OnFrame(direction, frame); }
    void OnLost() override { stitcher->OnLost(direction); }
    void OnResynced() override { ++stitcher->counters_.resynced; }
  };

  void Start(const http::Segment& segment);
  void OnFrame(http::Direction direction, const Frame& frame);
  void OnLost(http::Direction direction);
  // usable: the fragment is the frame's whole (a frame not copied whole, or malformed, is not).
  void OnHeaderFragment(http::Direction direction, const Frame& frame, std::string_view fragment,
                        bool first, bool usable);
  void OnBlock(http::Direction direction, Block& block, uint64_t end_ns);
  void OnSettings(http::Direction direction, const Frame& frame);
  void Finish(uint32_t stream, uint64_t end_ns);
  void Decide(Kind kind);   // the connection's kind; the waiting streams go out
  void ReleaseUndecided();  // ... as plain HTTP/2 requests, counted
  bool FromClient(http::Direction direction) const {
    return (direction == http::Direction::kWrite) == (role_ == Role::kClient);
  }
  static size_t Index(http::Direction direction) { return static_cast<size_t>(direction); }

  Counters& counters_;
  bool started_ = false;
  bool awaiting_preface_ = false;  // the server spoke first: the preface comes the other way
  Role role_ = Role::kUnknown;
  FrameReader readers_[2];  // by http::Direction
  HpackDecoder decoders_[2];
  Block blocks_[2];
  DirectionSink sinks_[2];
  std::unordered_map<uint32_t, Stream> streams_;
  Kind kind_ = Kind::kUndecided;
  std::vector<Exchange> undecided_;  // ended, waiting for kind_ (kMaxUndecided)
  std::vector<Exchange>* out_ = nullptr;
};

// gRPC's status for a stream reset with an HTTP/2 error code (gRPC's PROTOCOL-HTTP2.md).
int GrpcStatusOfReset(uint32_t error_code);

}  // namespace netlens::http2
