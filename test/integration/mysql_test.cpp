// MySQL request metrics (issue 19) from Debian's MariaDB server and a client on Debian's
// MariaDB Connector/C (nl-mysql-client): a known list of statements, some failing, run over
// three connections; netlens counts each command per operation and error code exactly, on
// the client's side and on the server's, and what the client printed confirms each outcome.
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "exposition.h"
#include "mariadb_child.h"
#include "netlens_process.h"
#include "ports.h"
#include "subprocess.h"
#include "temp_dir.h"

namespace netlens::test {
namespace {

using std::chrono::milliseconds;

// (mysql_command, db_operation_name, db_response_status_code)
using CommandKey = std::tuple<std::string, std::string, std::string>;

struct Step {
  std::string line;                  // nl-mysql-client's input
  std::string printed;               // what it must print for it
  std::vector<CommandKey> commands;  // what netlens must count for it
};

std::vector<Step> Script(int run) {
  const std::string db = "nl" + std::to_string(run);
  const std::string big(10000, 'x');  // a statement of more than the 512 bytes copied
  return {
      {"query CREATE DATABASE " + db, "ok 1", {{"COM_QUERY", "CREATE", ""}}},
      {"query CREATE TABLE " + db + ".t (id INT PRIMARY KEY, v TEXT)",
       "ok 0",
       {{"COM_QUERY", "CREATE", ""}}},
      {"query INSERT INTO " + db + ".t VALUES (1,'a'),(2,'b'),(3,'c')",
       "ok 3",
       {{"COM_QUERY", "INSERT", ""}}},
      {"query INSERT INTO " + db + ".t VALUES (1,'again')",
       "error 1062",
       {{"COM_QUERY", "INSERT", "1062"}}},
      {"query /* a comment */ SELECT * FROM " + db + ".t", "ok 0", {{"COM_QUERY", "SELECT", ""}}},
      {"query SELECT nosuch FROM " + db + ".t", "error 1054", {{"COM_QUERY", "SELECT", "1054"}}},
      {"query SELECT * FROM " + db + ".missing", "error 1146", {{"COM_QUERY", "SELECT", "1146"}}},
      {"query UPDATE " + db + ".t SET v = CONCAT(v, 'z')", "ok 3", {{"COM_QUERY", "UPDATE", ""}}},
      {"query INSERT INTO " + db + ".t VALUES (4,'" + big + "')",
       "ok 1",
       {{"COM_QUERY", "INSERT", ""}}},
      // 2,000 rows in calls of many packets: most packet headers are not copied.
      {"query SELECT seq, REPEAT('r', 20) FROM " + db + ".seq_1_to_2000",
       "ok 0",
       {{"COM_QUERY", "SELECT", ""}}},
      {"prepare SELECT v FROM " + db + ".t WHERE id > 1",
       "ok 0",
       {{"COM_STMT_PREPARE", "SELECT", ""}, {"COM_STMT_EXECUTE", "SELECT", ""}}},
      {"prepare DELETE FROM " + db + ".t WHERE id = 3",
       "ok 1",
       {{"COM_STMT_PREPARE", "DELETE", ""}, {"COM_STMT_EXECUTE", "DELETE", ""}}},
      {"prepare SELECT nosuch FROM " + db + ".t",
       "error 1054",
       {{"COM_STMT_PREPARE", "SELECT", "1054"}}},
      {"ping", "ok 0", {{"COM_PING", "PING", ""}}},
      {"query BEGIN", "ok 0", {{"COM_QUERY", "BEGIN", ""}}},
      {"query COMMIT", "ok 0", {{"COM_QUERY", "COMMIT", ""}}},
      {"query frobnicate", "error 1064", {{"COM_QUERY", "_OTHER", "1064"}}},
      {"query SELECT 1; SELECT 2", "ok 0", {{"COM_QUERY", "SELECT", ""}}},
  };
}

std::map<CommandKey, double> CountsOf(const Scrape& scrape, const std::string& family,
                                      const Labels& subset) {
  std::map<CommandKey, double> counts;
  for (const Sample* sample : Select(scrape.samples, family + "_count", subset)) {
    const Labels& l = sample->labels;
    const auto code = l.find("db_response_status_code");
    counts[{l.at("mysql_command"), l.at("db_operation_name"),
            code == l.end() ? "" : code->second}] += sample->value;
  }
  return counts;
}

std::string Describe(const std::map<CommandKey, double>& counts) {
  std::ostringstream out;
  for (const auto& [key, value] : counts) {
    out << std::get<0>(key) << " " << std::get<1>(key) << " [" << std::get<2>(key) << "]: " << value
        << "\n";
  }
  return out.str();
}

double Total(const std::map<CommandKey, double>& counts) {
  double total = 0;
  for (const auto& [key, value] : counts) total += value;
  return total;
}

TEST_CASE("mysql requests: each command counted per operation and error code, both sides",
          "[mysql]") {
  TempDir dir;
  const uint16_t port = FreeLoopbackPort();
  // netlens first: the kernel then watches mariadbd and the clients from their exec on.
  NetlensProcess netlens("process", {},
                         "http_requests:\n"
                         "  protocols: [http, mysql]\n"
                         "  processes:\n"
                         "    include:\n"
                         "      - comm: mariadbd\n"
                         "      - comm: nl-mysql-client\n");
  const MariadbChild server(dir, port);

  constexpr int kRuns = 3;
  std::map<CommandKey, double> expected;
  double affected = 0;
  for (int run = 0; run < kRuns; ++run) {
    const std::vector<Step> script = Script(run);
    std::string input, printed;
    for (const Step& step : script) {
      input += step.line + "\n";
      printed += step.printed + "\n";
      for (const CommandKey& key : step.commands) expected[key] += 1;
      if (step.printed.starts_with("ok ")) affected += std::stod(step.printed.substr(3));
    }
    expected[{"handshake", "CONNECT", ""}] += 1;
    const std::string input_path = dir.Write("commands" + std::to_string(run), input);
    const Output output = Child({NL_MYSQL_CLIENT_BINARY, std::to_string(port)},
                                SpawnOptions{.stdin_file = input_path})
                              .Communicate(milliseconds(60000));
    INFO(output.err);
    REQUIRE(output.status.Success());
    REQUIRE(output.out == printed);  // the server did what the script says
  }

  const std::string client_family = "netlens_db_client_operation_duration_seconds";
  const std::string server_family = "netlens_db_server_operation_duration_seconds";
  std::map<CommandKey, double> seen_client, seen_server;
  Scrape scrape;
  for (int i = 0; i < 100; ++i) {
    scrape = netlens.ScrapeMetrics();
    seen_client = CountsOf(scrape, client_family, {{"comm", "nl-mysql-client"}});
    seen_server = CountsOf(scrape, server_family, {{"comm", "mariadbd"}});
    if (Total(seen_client) >= Total(expected) && Total(seen_server) >= Total(expected)) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  INFO(netlens.Report());
  CHECK(Describe(seen_client) == Describe(expected));
  CHECK(Describe(seen_server) == Describe(expected));
  // The client's series name its server.
  CHECK(Sum(scrape.samples, client_family + "_count",
            {{"server_address", "127.0.0.1"}, {"server_port", std::to_string(port)}}) ==
        Total(expected));
  // Affected rows, as the OK packets say (the client printed them).
  CHECK(Sum(scrape.samples, "netlens_db_client_affected_rows_total", {}) == affected);
  CHECK(Sum(scrape.samples, "netlens_db_server_affected_rows_total", {}) == affected);
  // Every connection from its handshake; nothing left unanswered.
  CHECK(Sum(scrape.samples, "netlens_mysql_parser_events_total", {{"event", "joined_midstream"}}) ==
        0);
  CHECK(Sum(scrape.samples, "netlens_mysql_parser_events_total", {{"event", "unanswered"}}) == 0);
  CHECK(Sum(scrape.samples, "netlens_mysql_parser_events_total",
            {{"event", "unexpected_packet"}}) == 0);
  CHECK(Sum(scrape.samples, "netlens_http_connections_classified_total", {{"verdict", "mysql"}}) ==
        2 * kRuns);
}

}  // namespace
}  // namespace netlens::test
