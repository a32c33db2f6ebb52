// Pairs the commands and responses of one MySQL (classic protocol) connection into exchanges
// (mysql_protocol.h), both directions fed in the order the capture saw them (http/segment.h:
// the capture's per-call records, a copied prefix of each call and its whole length).
//
// - Framing: each direction is read as packets (4-byte header, payload); only the first
//   kPrefixBytes of each payload are looked at, the rest is skipped by its length, so a big
//   statement or row costs nothing. A header that falls in the capture's uncopied bytes loses
//   the framing of that direction; it is found again at the start of the direction's next call
//   after the other direction has spoken (the protocol is strictly command, then response).
// - The role comes from the first packet: the server's greeting (protocol 10) or, for a
//   connection watched mid-stream, a client command; such a connection is counted
//   (joined_midstream), its capabilities are unknown and its prepared statements too.
// - A response ends at its last packet: OK, ERR, or a result set's terminating EOF/OK (the
//   client's CLIENT_DEPRECATE_EOF from the handshake says which), with more results followed
//   (SERVER_MORE_RESULTS_EXISTS); MariaDB's cached metadata (no column definitions after an
//   execute's column count) is followed too. Where the framing was lost it ends at its last call
//   before the next command (or the close), counted framing_lost.
// - Prepared statements: the operation of COM_STMT_EXECUTE/FETCH is the one of the statement
//   its COM_STMT_PREPARE named (at most kMaxStatements per connection, COM_STMT_CLOSE frees).
// - A connection that switches to TLS (SSL request) or to compression (CLIENT_COMPRESS) is
//   counted and not parsed further.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "http/segment.h"
#include "mysql/mysql_protocol.h"

namespace netlens::mysql {

// One direction's packets.
class PacketReader {
 public:
  struct Packet {
    uint8_t sequence = 0;
    uint32_t length = 0;        // payload bytes
    std::string_view prefix;    // its first min(length, kPrefixBytes) bytes, or fewer: truncated
    bool whole = false;         // prefix is the whole payload
    bool continuation = false;  // the previous packet had kMaxPayload bytes: this one continues it
  };
  static constexpr size_t kPrefixBytes = 96;

  // Calls on_packet(packet) for each packet that starts in the segment, once its prefix is in.
  template <typename OnPacket>
  void Feed(const http::Segment& segment, OnPacket&& on_packet);
  bool synced() const { return synced_; }
  // The other direction spoke: unless inside a packet it can follow, start again with a packet
  // at this direction's next call.
  void RestartAtNextCall() {
    if (!synced_ || (!in_payload_ && header_have_ == 0)) restart_ = true;
  }

 private:
  uint8_t header_[4] = {};
  size_t header_have_ = 0;
  bool in_payload_ = false;
  uint32_t length_ = 0;
  uint64_t remaining_ = 0;  // payload bytes of the current packet not passed yet
  std::string prefix_;
  bool delivered_ = false;
  bool continuation_ = false, previous_max_ = false;
  uint8_t sequence_ = 0;
  bool synced_ = false;
  bool restart_ = true;
};

class Stitcher {
 public:
  static constexpr size_t kMaxStatements = 256;

  explicit Stitcher(Counters& counters) : counters_(counters) {}
  void OnSegment(const http::Segment& segment, std::vector<Exchange>& out);
  void OnClose(uint64_t ts_ns, std::vector<Exchange>& out);
  Role role() const { return role_; }

 private:
  // kTls: TLS or compression follows (the handshake said so): nothing more is parsed.
  enum class Phase : uint8_t { kStart, kHandshake, kAuth, kCommand, kTls };
  enum class Expect : uint8_t {
    kFirst,
    kColumns,
    kColumnsEof,
    kRows,
    kPrepareParams,
    kPrepareParamsEof,
    kPrepareColumns,
    kPrepareColumnsEof,
    kInfileData,  // the client sends a file (LOAD DATA LOCAL), then the server's OK or ERR
    kInfileResult,
    kLost,  // framing lost: ends at the next command or the close
  };
  struct Pending {
    Exchange exchange;
    Expect expect = Expect::kFirst;
    uint64_t count = 0;     // column (or parameter) definitions still to come
    uint64_t columns = 0;   // COM_STMT_PREPARE: the columns after the parameters
    bool answered = false;  // a response call was seen
    uint64_t last_response_ns = 0;
  };

  void OnPacket(bool from_client, const PacketReader::Packet& packet, const http::Segment& segment,
                std::vector<Exchange>& out);
  void StartCommand(const PacketReader::Packet& packet, const http::Segment& segment,
                    std::vector<Exchange>& out);
  void OnResponse(const PacketReader::Packet& packet, uint64_t ts_ns, std::vector<Exchange>& out);
  // The definitions of a result set or of a prepare's parameters ended: what follows. True when
  // the response is complete.
  bool AfterDefinitions(Pending& pending, bool prepare_params);
  void Finish(uint64_t end_ns, std::vector<Exchange>& out);
  void FinishLost(std::vector<Exchange>& out);
  bool FromClient(http::Direction direction) const {
    return (direction == http::Direction::kWrite) == (role_ == Role::kClient);
  }

  Counters& counters_;
  PacketReader readers_[2];  // by http::Direction
  Role role_ = Role::kUnknown;
  Phase phase_ = Phase::kStart;
  int deprecate_eof_ = -1;  // the client's CLIENT_DEPRECATE_EOF; -1: not seen
  uint64_t greeting_ns_ = 0;
  std::optional<Pending> pending_;
  std::unordered_map<uint32_t, std::string> statements_;  // prepared: id -> operation
};

template <typename OnPacket>
void PacketReader::Feed(const http::Segment& segment, OnPacket&& on_packet) {
  if (restart_) {
    restart_ = false;
    synced_ = true;
    header_have_ = 0;
    in_payload_ = false;
    previous_max_ = false;
  }
  if (!synced_) return;
  const std::string_view bytes = segment.bytes;
  const uint64_t copied = bytes.size();
  const uint64_t length = segment.length;
  uint64_t pos = 0;
  const auto deliver = [&](bool whole) {
    delivered_ = true;
    on_packet(Packet{sequence_, length_, prefix_, whole, continuation_});
  };
  while (pos < length) {
    if (!in_payload_) {
      if (pos >= copied) {
        synced_ = false;  // a header in the uncopied bytes
        return;
      }
      header_[header_have_++] = static_cast<uint8_t>(bytes[pos++]);
      if (header_have_ < 4) continue;
      header_have_ = 0;
      length_ = header_[0] | (header_[1] << 8) | (static_cast<uint32_t>(header_[2]) << 16);
      sequence_ = header_[3];
      remaining_ = length_;
      prefix_.clear();
      delivered_ = false;
      continuation_ = previous_max_;
      previous_max_ = length_ == kMaxPayload;
      if (length_ == 0) {
        deliver(true);
        continue;
      }
      in_payload_ = true;
      continue;
    }
    const size_t want = length_ < kPrefixBytes ? length_ : kPrefixBytes;
    if (!delivered_) {
      if (pos < copied) {
        const uint64_t n = std::min<uint64_t>({want - prefix_.size(), copied - pos, remaining_});
        prefix_.append(bytes.substr(pos, n));
        pos += n;
        remaining_ -= n;
        if (prefix_.size() == want) deliver(want == length_);
      } else {
        deliver(false);  // the rest of the prefix was not copied
      }
      if (remaining_ == 0) in_payload_ = false;
      continue;
    }
    const uint64_t n = std::min<uint64_t>(remaining_, length - pos);
    pos += n;
    remaining_ -= n;
    if (remaining_ == 0) in_payload_ = false;
  }
}

}  // namespace netlens::mysql
