#include "mysql/mysql_stitcher.h"

namespace netlens::mysql {
namespace {

using Packet = PacketReader::Packet;

uint8_t Byte(std::string_view s, size_t i) { return i < s.size() ? static_cast<uint8_t>(s[i]) : 0; }

uint32_t Le(std::string_view s, size_t at, size_t n) {
  uint32_t value = 0;
  for (size_t i = 0; i < n; ++i) value |= static_cast<uint32_t>(Byte(s, at + i)) << (8 * i);
  return value;
}

// A length-encoded integer at `at`; advances it. nullopt: not in the bytes.
std::optional<uint64_t> LengthEncoded(std::string_view s, size_t& at) {
  if (at >= s.size()) return std::nullopt;
  const uint8_t first = Byte(s, at);
  size_t n = 0;
  if (first < 0xfb) {
    ++at;
    return first;
  }
  if (first == 0xfc)
    n = 2;
  else if (first == 0xfd)
    n = 3;
  else if (first == 0xfe)
    n = 8;
  else
    return std::nullopt;
  if (at + 1 + n > s.size()) return std::nullopt;
  uint64_t value = 0;
  for (size_t i = 0; i < n; ++i) value |= static_cast<uint64_t>(Byte(s, at + 1 + i)) << (8 * i);
  at += 1 + n;
  return value;
}

struct OkPacket {
  uint64_t affected_rows = 0;
  uint16_t status = 0;
};

// An OK packet (or an OK-as-EOF, header 0xfe): affected rows and status flags.
std::optional<OkPacket> ParseOk(std::string_view payload) {
  size_t at = 1;
  const auto affected = LengthEncoded(payload, at);
  if (!affected || !LengthEncoded(payload, at) || at + 2 > payload.size()) return std::nullopt;
  return OkPacket{*affected, static_cast<uint16_t>(Le(payload, at, 2))};
}

bool IsEof(const Packet& packet, int deprecate_eof) {
  if (Byte(packet.prefix, 0) != kEofHeader || packet.prefix.empty()) return false;
  // A row can start with 0xfe only as an 8-byte length: its payload is 9 bytes or more.
  return packet.length < 9 || (deprecate_eof == 1 && packet.length < kMaxPayload);
}

// The status flags of an EOF packet, or of the OK packet that ends a result set.
uint16_t EofStatus(const Packet& packet) {
  if (packet.length < 9 && packet.length >= 5)
    return static_cast<uint16_t>(Le(packet.prefix, 3, 2));
  const auto ok = ParseOk(packet.prefix);
  return ok ? ok->status : 0;
}

}  // namespace

void Stitcher::OnSegment(const http::Segment& segment, std::vector<Exchange>& out) {
  const size_t here = segment.direction == http::Direction::kRead ? 0 : 1;
  readers_[1 - here].RestartAtNextCall();
  if (phase_ == Phase::kTls) return;
  if (pending_ && role_ != Role::kUnknown) {
    if (!FromClient(segment.direction)) {
      pending_->exchange.response_bytes += segment.length;
      pending_->last_response_ns = segment.ts_ns;
      pending_->answered = true;
    } else if (!pending_->answered || pending_->expect == Expect::kInfileData) {
      pending_->exchange.request_bytes += segment.length;
    }
  }
  readers_[here].Feed(segment, [&](const Packet& packet) {
    if (phase_ == Phase::kTls) return;
    if (role_ == Role::kUnknown) {
      const uint8_t first = Byte(packet.prefix, 0);
      const bool write = segment.direction == http::Direction::kWrite;
      if (packet.sequence == 0 && first == kGreetingProtocol && !packet.prefix.empty()) {
        role_ = write ? Role::kServer : Role::kClient;
        phase_ = Phase::kHandshake;
        greeting_ns_ = segment.ts_ns;
        return;
      }
      if (packet.sequence != 0 || packet.prefix.empty() || !IsCommand(first)) return;
      role_ = write ? Role::kClient : Role::kServer;
      phase_ = Phase::kCommand;
      ++counters_.joined_midstream;
    }
    OnPacket(FromClient(segment.direction), packet, segment, out);
  });
  if (pending_ && pending_->answered && !readers_[here].synced() &&
      !FromClient(segment.direction) && pending_->expect != Expect::kLost) {
    pending_->expect = Expect::kLost;
  }
}

void Stitcher::OnPacket(bool from_client, const Packet& packet, const http::Segment& segment,
                        std::vector<Exchange>& out) {
  const uint8_t first = Byte(packet.prefix, 0);
  switch (phase_) {
    case Phase::kStart:
    case Phase::kTls:
      return;
    case Phase::kHandshake:
      if (from_client && packet.sequence == 1 && packet.prefix.size() >= 4) {
        const uint32_t capabilities = Le(packet.prefix, 0, 4);
        if ((capabilities & kClientSsl) && packet.length == 32) {
          phase_ = Phase::kTls;  // an SSL request: TLS follows
          ++counters_.tls_connections;
          pending_.reset();
          return;
        }
        if (capabilities & kClientCompress) {
          phase_ = Phase::kTls;  // compressed packets follow: not parsed either
          ++counters_.compressed_connections;
          return;
        }
        deprecate_eof_ = (capabilities & kClientDeprecateEof) ? 1 : 0;
        phase_ = Phase::kAuth;
      } else if (!from_client && packet.sequence == 0 && first == kGreetingProtocol) {
        greeting_ns_ = segment.ts_ns;
      }
      return;
    case Phase::kAuth:
      if (from_client || (first != kOkHeader && first != kErrHeader)) return;  // more rounds
      {
        Exchange connect;
        connect.role = role_;
        connect.command = kHandshake;
        connect.operation = "CONNECT";
        connect.start_ns = greeting_ns_;
        connect.end_ns = segment.ts_ns;
        if (first == kErrHeader) {
          connect.outcome = Outcome::kError;
          connect.error_code = static_cast<uint16_t>(Le(packet.prefix, 1, 2));
        }
        out.push_back(std::move(connect));
      }
      phase_ = Phase::kCommand;
      return;
    case Phase::kCommand:
      break;
  }
  if (packet.continuation) return;
  if (from_client) {
    if (pending_ && pending_->expect == Expect::kInfileData) {
      if (packet.length == 0) pending_->expect = Expect::kInfileResult;  // the file's end
      return;
    }
    if (packet.sequence != 0 || packet.prefix.empty() || !IsCommand(first)) {
      ++counters_.unexpected_packets;
      return;
    }
    if (pending_) FinishLost(out);
    StartCommand(packet, segment, out);
    return;
  }
  if (!pending_) return;  // e.g. the rest of a response whose command was not seen
  OnResponse(packet, segment.ts_ns, out);
}

void Stitcher::StartCommand(const Packet& packet, const http::Segment& segment,
                            std::vector<Exchange>& out) {
  (void)out;
  const uint8_t command = Byte(packet.prefix, 0);
  if (command == kComStmtClose) {
    if (packet.prefix.size() >= 5) statements_.erase(Le(packet.prefix, 1, 4));
    return;
  }
  if (HasNoResponse(command)) return;
  Pending pending;
  Exchange& exchange = pending.exchange;
  exchange.role = role_;
  exchange.command = command;
  exchange.start_ns = segment.ts_ns;
  exchange.request_bytes = segment.length;
  const std::string_view statement = packet.prefix.substr(1);
  const auto statement_operation = [&]() -> std::string {
    const std::string_view operation = OperationOf(statement, packet.whole);
    return operation.empty() ? "_OTHER" : std::string(operation);
  };
  switch (command) {
    case kComQuery:
    case kComStmtPrepare:
      exchange.operation = statement_operation();
      break;
    case kComStmtExecute:
    case kComStmtFetch:
      if (const auto it = statements_.find(Le(packet.prefix, 1, 4)); it != statements_.end()) {
        exchange.operation = it->second;
      } else {
        exchange.operation = std::string(kUnknownStatement);
        ++counters_.unknown_statements;
      }
      if (command == kComStmtFetch) pending.expect = Expect::kRows;
      break;
    default:
      exchange.operation = std::string(CommandName(command).substr(4));  // "PING", ...
      break;
  }
  pending_ = std::move(pending);
}

bool Stitcher::AfterDefinitions(Pending& pending, bool prepare_params) {
  const bool prepare = pending.exchange.command == kComStmtPrepare;
  if (deprecate_eof_ < 0) {
    pending.expect = Expect::kLost;  // whether an EOF follows is not known
    return false;
  }
  if (deprecate_eof_ == 0) {
    pending.expect = prepare_params ? Expect::kPrepareParamsEof
                     : prepare      ? Expect::kPrepareColumnsEof
                                    : Expect::kColumnsEof;
    return false;
  }
  if (prepare_params && pending.columns > 0) {
    pending.expect = Expect::kPrepareColumns;
    pending.count = pending.columns;
    return false;
  }
  if (prepare) return true;
  pending.expect = Expect::kRows;
  return false;
}

void Stitcher::OnResponse(const Packet& packet, uint64_t ts_ns, std::vector<Exchange>& out) {
  Pending& pending = *pending_;
  Exchange& exchange = pending.exchange;
  const uint8_t first = Byte(packet.prefix, 0);
  if (packet.prefix.empty() && packet.length > 0) {
    pending.expect = Expect::kLost;  // not even the first byte was copied
    return;
  }
  if (first == kErrHeader && pending.expect != Expect::kColumns &&
      pending.expect != Expect::kPrepareParams && pending.expect != Expect::kPrepareColumns &&
      pending.expect != Expect::kLost) {
    exchange.outcome = Outcome::kError;
    exchange.error_code = static_cast<uint16_t>(Le(packet.prefix, 1, 2));
    Finish(ts_ns, out);
    return;
  }
  switch (pending.expect) {
    case Expect::kFirst: {
      const uint8_t command = exchange.command;
      if (first == kOkHeader && command == kComStmtPrepare) {
        if (packet.prefix.size() < 9) {
          pending.expect = Expect::kLost;
          return;
        }
        const uint32_t id = Le(packet.prefix, 1, 4);
        const uint64_t columns = Le(packet.prefix, 5, 2), params = Le(packet.prefix, 7, 2);
        if (statements_.size() < kMaxStatements || statements_.count(id)) {
          statements_[id] = exchange.operation;
        } else {
          ++counters_.statements_over_limit;
        }
        pending.columns = columns;
        if (params > 0) {
          pending.expect = Expect::kPrepareParams;
          pending.count = params;
        } else if (columns > 0) {
          pending.expect = Expect::kPrepareColumns;
          pending.count = columns;
        } else {
          Finish(ts_ns, out);
        }
        return;
      }
      if (first == kOkHeader) {
        const auto ok = ParseOk(packet.prefix);
        if (ok) exchange.affected_rows += ok->affected_rows;
        if (ok && (ok->status & kServerMoreResultsExist)) return;  // another result follows
        Finish(ts_ns, out);
        return;
      }
      if (first == kLocalInfileHeader && command == kComQuery) {
        pending.expect = Expect::kInfileData;
        return;
      }
      if (command == kComQuery || command == kComStmtExecute) {
        size_t at = 0;
        const auto columns = LengthEncoded(packet.prefix, at);
        if (!columns || *columns == 0) {
          ++counters_.unexpected_packets;
          pending.expect = Expect::kLost;
          return;
        }
        exchange.outcome = Outcome::kResultSet;
        // MariaDB's MARIADB_CLIENT_CACHE_METADATA adds a byte: 0 when the column definitions
        // are not sent again (an execute of a statement whose prepare sent them).
        if (packet.whole && packet.length == at + 1 && Byte(packet.prefix, at) == 0) {
          if (AfterDefinitions(pending, false)) Finish(ts_ns, out);
          return;
        }
        pending.expect = Expect::kColumns;
        pending.count = *columns;
        return;
      }
      if (command == kComFieldList) {
        pending.expect = Expect::kRows;  // column definitions, then EOF
        return;
      }
      Finish(ts_ns, out);  // PING, INIT_DB, STATISTICS, ...: one packet
      return;
    }
    case Expect::kColumns:
    case Expect::kPrepareParams:
    case Expect::kPrepareColumns:
      if (--pending.count == 0 &&
          AfterDefinitions(pending, pending.expect == Expect::kPrepareParams)) {
        Finish(ts_ns, out);
      }
      return;
    case Expect::kColumnsEof:
    case Expect::kPrepareParamsEof:
    case Expect::kPrepareColumnsEof:
      if (!IsEof(packet, 0)) {
        ++counters_.unexpected_packets;
        pending.expect = Expect::kLost;
        return;
      }
      if (pending.expect == Expect::kPrepareParamsEof) {
        if (pending.columns == 0) {
          Finish(ts_ns, out);
        } else {
          pending.expect = Expect::kPrepareColumns;
          pending.count = pending.columns;
        }
      } else if (pending.expect == Expect::kPrepareColumnsEof ||
                 (EofStatus(packet) & kServerStatusCursorExists)) {
        Finish(ts_ns, out);
      } else {
        pending.expect = Expect::kRows;
      }
      return;
    case Expect::kRows:
      if (!IsEof(packet, deprecate_eof_)) return;  // a row (or a column definition)
      if (EofStatus(packet) & kServerMoreResultsExist) {
        pending.expect = Expect::kFirst;
        return;
      }
      Finish(ts_ns, out);
      return;
    case Expect::kInfileData:
      return;
    case Expect::kInfileResult:
      if (first == kOkHeader) {
        if (const auto ok = ParseOk(packet.prefix)) exchange.affected_rows += ok->affected_rows;
        Finish(ts_ns, out);
      }
      return;
    case Expect::kLost:
      return;
  }
}

void Stitcher::Finish(uint64_t end_ns, std::vector<Exchange>& out) {
  pending_->exchange.end_ns = end_ns;
  out.push_back(std::move(pending_->exchange));
  pending_.reset();
}

void Stitcher::FinishLost(std::vector<Exchange>& out) {
  if (!pending_->answered) {
    ++counters_.unanswered;
    pending_.reset();
    return;
  }
  ++counters_.framing_lost;
  Finish(pending_->last_response_ns, out);
}

void Stitcher::OnClose(uint64_t ts_ns, std::vector<Exchange>& out) {
  (void)ts_ns;
  if (pending_) FinishLost(out);
}

}  // namespace netlens::mysql
