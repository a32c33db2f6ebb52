// The MySQL classic protocol (issue 19) as the stitcher reads it: command bytes, response
// headers, capability and status flags, and what one command and its response become.
// MariaDB speaks the same protocol. Reference: the MySQL source's "Client/Server Protocol"
// pages (packets: 3-byte little-endian payload length, 1-byte sequence id, payload).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "http/exchange.h"  // Role

namespace netlens::mysql {

using http::Role;

// Command bytes (the first payload byte of a packet with sequence id 0 from the client).
enum Command : uint8_t {
  kComQuit = 0x01,
  kComInitDb = 0x02,
  kComQuery = 0x03,
  kComFieldList = 0x04,
  kComStatistics = 0x09,
  kComProcessKill = 0x0c,
  kComPing = 0x0e,
  kComChangeUser = 0x11,
  kComStmtPrepare = 0x16,
  kComStmtExecute = 0x17,
  kComStmtSendLongData = 0x18,
  kComStmtClose = 0x19,
  kComStmtReset = 0x1a,
  kComSetOption = 0x1b,
  kComStmtFetch = 0x1c,
  kComResetConnection = 0x1f,
};
inline constexpr uint8_t kLastCommand = 0x1f;  // above: not a command (a packet of a kind
                                               // the stitcher does not know)

// Response headers (the first payload byte).
inline constexpr uint8_t kOkHeader = 0x00;
inline constexpr uint8_t kEofHeader = 0xfe;
inline constexpr uint8_t kErrHeader = 0xff;
inline constexpr uint8_t kLocalInfileHeader = 0xfb;
inline constexpr uint8_t kGreetingProtocol = 0x0a;  // the server's first packet: protocol 10

// Capability flags (client handshake response) and status flags (OK, EOF).
inline constexpr uint32_t kClientCompress = 0x00000020;
inline constexpr uint32_t kClientSsl = 0x00000800;
inline constexpr uint32_t kClientProtocol41 = 0x00000200;
inline constexpr uint32_t kClientDeprecateEof = 0x01000000;
inline constexpr uint16_t kServerMoreResultsExist = 0x0008;
inline constexpr uint16_t kServerStatusCursorExists = 0x0040;

// A payload of this length continues in the next packet.
inline constexpr uint32_t kMaxPayload = 0xffffff;

// "COM_QUERY", ... for the mysql_command label; "handshake" for the connection phase (kNone).
inline constexpr uint8_t kHandshake = 0;
std::string_view CommandName(uint8_t command);
bool IsCommand(uint8_t command);
// Commands the server answers with nothing: no exchange comes of them.
bool HasNoResponse(uint8_t command);

// The operation of a statement: its first keyword upper-cased (after white space, comments and
// opening parentheses) when it is one of the SQL statement keywords netlens knows, else
// "_OTHER" (never the statement's text: a label, so bounded). `whole`: text is the whole
// statement, else only its copied start, and "" means the keyword was not in it.
std::string_view OperationOf(std::string_view text, bool whole);

// The operation label of an execute whose prepare was not seen (connection watched
// mid-stream, or the statement table full).
inline constexpr std::string_view kUnknownStatement = "_UNKNOWN";

enum class Outcome : uint8_t { kOk, kError, kResultSet };

// One command and its response, as one side saw them.
struct Exchange {
  Role role = Role::kUnknown;  // the observed process's side
  uint8_t command = 0;         // enum Command; kHandshake for the connection phase
  std::string operation;       // OperationOf(statement), or the command's name
  Outcome outcome = Outcome::kOk;
  uint16_t error_code = 0;     // kError: the ERR packet's code (e.g. 1146)
  uint64_t affected_rows = 0;  // OK packets' affected rows, summed over a multi-result response
  uint64_t start_ns = 0;       // the call that carried the command's first byte
  uint64_t end_ns = 0;         // the call that carried the response's last byte
  uint64_t request_bytes = 0;  // the command's packets, headers included
  uint64_t response_bytes = 0;
};

// Self counts of the parsing (netlens_mysql_*), shared by a source's stitchers.
struct Counters {
  uint64_t joined_midstream = 0;        // connections first seen after their handshake
  uint64_t tls_connections = 0;         // connections that switched to TLS: not parsed further
  uint64_t compressed_connections = 0;  // connections with CLIENT_COMPRESS: not parsed further
  uint64_t framing_lost = 0;            // responses whose packets fell in uncopied bytes: ended at
                                        // the next command (or the close), rows not known
  uint64_t unanswered = 0;              // commands still awaiting a response at the close
  uint64_t unknown_statements = 0;      // executes of a statement whose prepare was not seen
  uint64_t statements_over_limit = 0;   // prepared statements not remembered: table full
  uint64_t unexpected_packets = 0;      // packets that fit no state (ignored; resynchronised)
};

}  // namespace netlens::mysql
