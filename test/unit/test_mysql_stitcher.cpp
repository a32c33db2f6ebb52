// The MySQL stitcher (daemon/mysql/mysql_stitcher.h) on real sessions recorded from Debian's
// MariaDB 10.11 with libmariadb and with the mariadb client (test/unit/mysql_fixtures/): the
// exchanges of each command, whatever the calls' boundaries, however few bytes the capture
// copied, from either side, and joined mid-stream.
#include <prometheus/text_serializer.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "golden_file.h"
#include "mysql/mysql_aggregator.h"
#include "mysql/mysql_families.h"
#include "mysql/mysql_protocol.h"
#include "mysql/mysql_stitcher.h"
#include "recorded_session.h"

namespace netlens::mysql {
namespace {

using Call = testing::RecordedCall;

std::vector<Call> Session(const std::string& name) {
  return testing::RecordedSession(std::string(NETLENS_MYSQL_FIXTURES_DIR) + "/" + name);
}

std::string Describe(const Exchange& e) {
  std::ostringstream out;
  out << CommandName(e.command) << ' ' << e.operation << ' ';
  if (e.outcome == Outcome::kError) out << "error " << e.error_code;
  if (e.outcome == Outcome::kOk) out << "ok " << e.affected_rows;
  if (e.outcome == Outcome::kResultSet) out << "rows";
  return out.str();
}

struct Run {
  std::vector<std::string> exchanges;
  std::vector<Exchange> raw;
  Counters counters;
  Role role = Role::kUnknown;
};

// Feeds the calls (call i at ts i * 1000), each split at `split` (0: whole) and copied up to
// `copied` bytes, seen from the server when `server`; then a close.
Run Feed(const std::vector<Call>& calls, size_t split = 0, size_t copied = SIZE_MAX,
         bool server = false, size_t first = 0) {
  Run run;
  Stitcher stitcher(run.counters);
  std::vector<Exchange> out;
  const auto feed = [&](http::Direction direction, std::string_view bytes, uint64_t ts) {
    http::Segment segment{direction, ts, bytes.size(), bytes.substr(0, copied), {}};
    stitcher.OnSegment(segment, out);
  };
  for (size_t i = first; i < calls.size(); ++i) {
    http::Direction direction = calls[i].direction;
    if (server) {
      direction =
          direction == http::Direction::kWrite ? http::Direction::kRead : http::Direction::kWrite;
    }
    const std::string_view bytes = calls[i].bytes;
    const uint64_t ts = (i + 1) * 1000;
    if (split > 0 && split < bytes.size()) {
      feed(direction, bytes.substr(0, split), ts);
      feed(direction, bytes.substr(split), ts);
    } else {
      feed(direction, bytes, ts);
    }
  }
  stitcher.OnClose(calls.size() * 1000 + 1000, out);
  for (const Exchange& e : out) run.exchanges.push_back(Describe(e));
  run.raw = out;
  run.role = stitcher.role();
  return run;
}

const std::vector<std::string> kLibmariadb = {
    "handshake CONNECT ok 0",
    "COM_QUERY CREATE ok 1",
    "COM_QUERY CREATE ok 0",
    "COM_QUERY INSERT ok 3",
    "COM_QUERY SELECT rows",
    "COM_QUERY SELECT error 1054",
    "COM_STMT_PREPARE SELECT ok 0",
    "COM_STMT_EXECUTE SELECT rows",
    "COM_STMT_PREPARE UPDATE ok 0",
    "COM_STMT_EXECUTE UPDATE ok 3",
    "COM_STMT_PREPARE SELECT error 1054",
    "COM_PING PING ok 0",
    "COM_QUERY SELECT rows",  // two statements, two results
};

TEST_CASE("mysql: a libmariadb session gives one exchange per command", "[mysql]") {
  const std::vector<Call> calls = Session("libmariadb_session.txt");
  const Run run = Feed(calls);
  CHECK(run.role == Role::kClient);
  CHECK(run.exchanges == kLibmariadb);
  CHECK(run.counters.framing_lost == 0);
  CHECK(run.counters.unanswered == 0);
  CHECK(run.counters.unexpected_packets == 0);
  CHECK(run.counters.joined_midstream == 0);
  // The first SELECT: written in call 10, its whole result read in call 11.
  REQUIRE(run.raw.size() == kLibmariadb.size());
  CHECK(run.raw[4].start_ns == 10000);
  CHECK(run.raw[4].end_ns == 11000);
  CHECK(run.raw[4].request_bytes == calls[9].bytes.size());
  CHECK(run.raw[4].response_bytes == calls[10].bytes.size());
  CHECK(run.raw[0].start_ns == 1000);  // the greeting
  CHECK(run.raw[0].end_ns == 3000);    // the OK of the authentication
}

TEST_CASE("mysql: the server's side of the same session gives the same exchanges", "[mysql]") {
  const Run run = Feed(Session("libmariadb_session.txt"), 0, SIZE_MAX, true);
  CHECK(run.role == Role::kServer);
  CHECK(run.exchanges == kLibmariadb);
}

TEST_CASE("mysql: calls split at every byte give the same exchanges", "[mysql]") {
  for (const char* name : {"libmariadb_session.txt", "mariadb_cli_session.txt"}) {
    const std::vector<Call> calls = Session(name);
    const std::vector<std::string> whole = Feed(calls).exchanges;
    size_t longest = 0;
    for (const Call& call : calls) longest = std::max(longest, call.bytes.size());
    for (size_t split = 1; split < longest; ++split) {
      INFO(name << " split at " << split);
      const Run run = Feed(calls, split);
      REQUIRE(run.exchanges == whole);
      REQUIRE(run.counters.framing_lost == 0);
    }
  }
}

TEST_CASE("mysql: copying only the first bytes of each call keeps every outcome", "[mysql]") {
  const std::vector<Call> calls = Session("libmariadb_session.txt");
  for (const size_t copied : {16, 24, 40, 64, 100, 512}) {
    INFO("copied " << copied);
    const Run run = Feed(calls, 0, copied);
    CHECK(run.exchanges == kLibmariadb);
    CHECK(run.counters.unanswered == 0);
    if (copied >= 512) CHECK(run.counters.framing_lost == 0);
  }
  // 16 bytes: the result sets' later packets are not copied; they end at their last call.
  const Run run = Feed(calls, 0, 16);
  CHECK(run.counters.framing_lost > 0);
  CHECK(run.raw[4].end_ns == 11000);
}

TEST_CASE("mysql: the mariadb client's session", "[mysql]") {
  const Run run = Feed(Session("mariadb_cli_session.txt"));
  CHECK(run.exchanges == std::vector<std::string>{"handshake CONNECT ok 0", "COM_QUERY INSERT ok 1",
                                                  "COM_QUERY SELECT rows",
                                                  "COM_QUERY SELECT error 1054"});
  CHECK(run.counters.framing_lost == 0);
}

TEST_CASE("mysql: a connection watched after its handshake", "[mysql]") {
  const std::vector<Call> calls = Session("libmariadb_session.txt");
  // From the first command on: no CONNECT, counted as joined mid-stream.
  Run run = Feed(calls, 0, SIZE_MAX, false, 3);
  std::vector<std::string> expected(kLibmariadb.begin() + 1, kLibmariadb.end());
  CHECK(run.exchanges == expected);
  CHECK(run.counters.joined_midstream == 1);
  // From the execute on (call 16): its prepare was not seen; the statement's operation is not
  // known. Whether an EOF follows column definitions is not known either: the result set ends
  // at its last call.
  run = Feed(calls, 0, SIZE_MAX, false, 15);
  REQUIRE(!run.exchanges.empty());
  CHECK(run.exchanges[0] == "COM_STMT_EXECUTE _UNKNOWN rows");
  CHECK(run.counters.unknown_statements == 1);
}

// A packet: header (payload length, sequence id), then the payload.
std::string Packet(uint8_t sequence, const std::string& payload) {
  std::string out;
  out.push_back(static_cast<char>(payload.size() & 0xff));
  out.push_back(static_cast<char>((payload.size() >> 8) & 0xff));
  out.push_back(static_cast<char>(payload.size() >> 16));
  out.push_back(static_cast<char>(sequence));
  return out + payload;
}

// A greeting, and a handshake response with these capability flags and `extra` bytes after
// the 32 fixed ones (none: an SSL request).
std::vector<Call> Handshake(uint32_t capabilities, const std::string& extra) {
  std::string response(32, '\0');
  for (int i = 0; i < 4; ++i) response[i] = static_cast<char>((capabilities >> (8 * i)) & 0xff);
  return {{http::Direction::kRead, Packet(0,
                                          "\x0a"
                                          "8.0.36" +
                                              std::string(40, '\0'))},
          {http::Direction::kWrite, Packet(1, response + extra)}};
}

TEST_CASE("mysql: CLIENT_DEPRECATE_EOF result sets end with an OK packet", "[mysql]") {
  std::vector<Call> calls = Handshake(kClientProtocol41 | kClientDeprecateEof, "root\0\0");
  const std::string ok_as_eof = std::string("\xfe\0\0\x02\0\0\0", 7);
  const std::string column =
      "\x03"
      "def" +
      std::string(12, '\x01');
  calls.push_back({http::Direction::kRead, Packet(2, std::string("\0\0\0\x02\0\0\0", 7))});
  // One column, one row, then OK(0xfe); no EOF after the column definition.
  calls.push_back({http::Direction::kWrite, Packet(0, "\x03select 1")});
  calls.push_back({http::Direction::kRead, Packet(1, "\x01") + Packet(2, column) +
                                               Packet(3,
                                                      "\x01"
                                                      "1") +
                                               Packet(4, ok_as_eof)});
  // An empty result: the OK(0xfe) right after the column definition.
  calls.push_back({http::Direction::kWrite, Packet(0, "\x03select 2 from t where false")});
  calls.push_back(
      {http::Direction::kRead, Packet(1, "\x01") + Packet(2, column) + Packet(3, ok_as_eof)});
  calls.push_back({http::Direction::kWrite, Packet(0, "\x0e")});
  calls.push_back({http::Direction::kRead, Packet(1, std::string("\0\0\0\x02\0\0\0", 7))});
  const Run run = Feed(calls);
  CHECK(run.exchanges == std::vector<std::string>{"handshake CONNECT ok 0", "COM_QUERY SELECT rows",
                                                  "COM_QUERY SELECT rows", "COM_PING PING ok 0"});
  CHECK(run.counters.framing_lost == 0);
  CHECK(run.counters.unexpected_packets == 0);
  REQUIRE(run.raw.size() == 4);
  CHECK(run.raw[1].end_ns == 5000);  // complete at its own call, not at the next command
  CHECK(run.raw[2].end_ns == 7000);
}

TEST_CASE("mysql: a connection that switches to TLS or compression is counted, not parsed",
          "[mysql]") {
  std::vector<Call> calls = Handshake(kClientProtocol41 | kClientSsl, "");  // an SSL request
  calls.push_back({http::Direction::kWrite, std::string("\x16\x03\x01\x02\x00", 5)});
  calls.push_back({http::Direction::kRead, std::string("\x16\x03\x03\x00\x7a", 5)});
  const Run run = Feed(calls);
  CHECK(run.exchanges.empty());
  CHECK(run.counters.tls_connections == 1);
  CHECK(run.counters.unexpected_packets == 0);
  // Compression: likewise.
  const Run compressed = Feed(Handshake(kClientProtocol41 | kClientCompress, "root\0\0"));
  CHECK(compressed.exchanges.empty());
  CHECK(compressed.counters.compressed_connections == 1);
}

TEST_CASE("mysql: operations from the statement's first keyword", "[mysql]") {
  CHECK(OperationOf("select 1", true) == "SELECT");
  CHECK(OperationOf("  /* app=x */ (SELECT 1) UNION (SELECT 2)", true) == "SELECT");
  CHECK(OperationOf("-- note\n\tinsert into t values (1)", true) == "INSERT");
  CHECK(OperationOf("# note\nDelete from t", true) == "DELETE");
  CHECK(OperationOf("COMMIT", true) == "COMMIT");
  CHECK(OperationOf("COMM", false) == "");  // cut by the copy: not known
  CHECK(OperationOf("frobnicate the table", true) == "_OTHER");
  CHECK(OperationOf("'quoted'", true) == "_OTHER");
  CHECK(OperationOf("/* never closed", false) == "");
}

TEST_CASE("mysql: series per operation and error code, bounded", "[mysql]") {
  Aggregator aggregator(3);
  http::HttpProcess process{{{"comm", "app"}}, "app"};
  Exchange e;
  e.role = Role::kClient;
  e.command = kComQuery;
  e.operation = "SELECT";
  e.start_ns = 1000;
  e.end_ns = 3000;
  aggregator.Add(process, e, "127.0.0.1", 3306, 1);
  aggregator.Add(process, e, "127.0.0.1", 3306, 2);
  e.outcome = Outcome::kError;
  e.error_code = 1146;
  aggregator.Add(process, e, "127.0.0.1", 3306, 3);
  e.operation = "INSERT";  // a third key: the budget of 3 holds 2 and "other"
  aggregator.Add(process, e, "127.0.0.1", 3306, 4);
  REQUIRE(aggregator.series().size() == 3);
  uint64_t folded = 0, selects = 0;
  for (const auto& [key, series] : aggregator.series()) {
    const uint64_t count = series.duration.buckets[0] + series.duration.buckets[1] +
                           series.duration.buckets[2] + series.duration.buckets[3];
    if (key.folded) folded += count;
    if (key.operation == "SELECT" && key.error_code == 0) selects = count;
    CHECK(series.duration.sum_ns % 2000 == 0);
  }
  CHECK(selects == 2);
  CHECK(folded == 1);
  CHECK(aggregator.folded_keys() == 1);
}

TEST_CASE("the MySQL families of fixed exchanges render to the golden text", "[golden][mysql]") {
  Aggregator aggregator(100);
  const http::HttpProcess server{{{"pid", "4200001"}, {"comm", "mariadbd"}}, "mariadbd"};
  const http::HttpProcess client{{{"pid", "4200002"}, {"comm", "app"}}, "app"};
  const auto made = [](Role role, uint8_t command, std::string operation, uint16_t error,
                       uint64_t affected, uint64_t duration_ns) {
    Exchange e;
    e.role = role;
    e.command = command;
    e.operation = std::move(operation);
    e.outcome = error ? Outcome::kError : Outcome::kOk;
    e.error_code = error;
    e.affected_rows = affected;
    e.start_ns = 1'000'000;
    e.end_ns = 1'000'000 + duration_ns;
    return e;
  };
  aggregator.Add(server, made(Role::kServer, kComQuery, "SELECT", 0, 0, 40'000), "", 0, 1);
  aggregator.Add(server, made(Role::kServer, kComQuery, "SELECT", 0, 0, 3'000'000), "", 0, 1);
  aggregator.Add(server, made(Role::kServer, kComQuery, "INSERT", 1062, 0, 20'000), "", 0, 1);
  aggregator.Add(server, made(Role::kServer, kComStmtExecute, "UPDATE", 0, 3, 90'000), "", 0, 1);
  aggregator.Add(server, made(Role::kServer, kHandshake, "CONNECT", 1045, 0, 500'000), "", 0, 1);
  aggregator.Add(client, made(Role::kClient, kComQuery, "SELECT", 0, 0, 60'000), "127.0.0.1", 3306,
                 1);
  ++aggregator.counters().framing_lost;
  std::vector<prometheus::MetricFamily> families;
  std::vector<SeriesBudgetUse> budgets;
  AppendMysqlFamilies(aggregator,
                      LatencyBuckets{std::chrono::microseconds(1), std::chrono::seconds(1)},
                      families, budgets);
  CHECK(budgets.size() == 4);
  netlens::testing::CheckGolden(prometheus::TextSerializer().Serialize(families), "mysql.prom");
}

}  // namespace
}  // namespace netlens::mysql
