// One direction of an HTTP/2 connection as frames (RFC 9113 4.1), from the capture's calls
// (http/segment.h: a copied prefix of each call, its whole length, and its last bytes).
//
// - A frame is handed over once its last byte went by. DATA payloads are skipped by their
//   length (only a padded frame's pad length is read), so a large message costs nothing; the
//   payloads of the other frames are kept up to kMaxKeptPayload (HEADERS, CONTINUATION,
//   SETTINGS, RST_STREAM, ...), and a payload not copied whole is handed over incomplete.
// - A frame header that falls in bytes the capture did not copy loses the framing of the
//   direction (OnLost). It is found again (resynced) at the start of a later call whose copied
//   bytes hold a chain of plausible frame headers (Plausible), or at the end of a call whose
//   last bytes (the capture's tail) hold a whole frame that ends there.
// - The client preface is skipped where the stitcher says it comes (SkipPreface).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "http/segment.h"
#include "http2/http2_protocol.h"

namespace netlens::http2 {

struct Frame {
  uint8_t type = 0;
  uint8_t flags = 0;
  uint32_t stream = 0;
  uint32_t length = 0;       // payload bytes
  std::string_view payload;  // kept types: the payload as far as copied; DATA: empty
  bool complete = false;     // the payload is whole in `payload`
  int pad_length = -1;       // DATA with PADDED: the pad length; -1: none or not copied
  uint64_t start_ns = 0;     // the call with the frame's first byte
  uint64_t end_ns = 0;       // the call with its last byte
};

class FrameReader {
 public:
  static constexpr size_t kMaxKeptPayload = 16384;

  struct Sink {
    virtual void OnFrame(const Frame& frame) = 0;
    virtual void OnLost() = 0;  // framing lost: frames until the next OnFrame are missed
    virtual void OnResynced() = 0;

   protected:
    ~Sink() = default;
  };

  void Feed(const http::Segment& segment, Sink& sink);
  void SkipPreface() { preface_left_ = kPreface.size(); }
  // Frames above this are implausible for a resync (the receiver's SETTINGS_MAX_FRAME_SIZE).
  void SetMaxFrameSize(uint32_t size) { max_frame_ = size; }
  bool synced() const { return synced_; }

  // A frame header that RFC 9113 allows (type, flags, stream id, fixed lengths), of a known
  // type, not above max_frame.
  static bool Plausible(const uint8_t* header, uint32_t max_frame);

 private:
  void StartFrame();
  void Deliver(Sink& sink, uint64_t ts_ns);
  // Lost: a chain of plausible headers starts at the call's first byte.
  bool ChainFits(const http::Segment& segment) const;
  // Lost, at the call's end: a whole frame ends there, in the tail (or the copied bytes).
  void TryTail(const http::Segment& segment, Sink& sink);

  size_t preface_left_ = 0;
  uint8_t header_[kFrameHeaderBytes] = {};
  size_t header_have_ = 0;
  bool in_payload_ = false;
  Frame frame_;
  uint64_t remaining_ = 0;  // payload bytes not passed yet
  std::string kept_;
  bool kept_gap_ = false;  // a payload byte to keep was not copied
  uint32_t max_frame_ = kDefaultMaxFrameSize;
  bool synced_ = true;
};

}  // namespace netlens::http2
