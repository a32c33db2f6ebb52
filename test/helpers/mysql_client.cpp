// nl-mysql-client: a MySQL client on libmariadb (Debian's MariaDB Connector/C) for the MySQL
// tests: connects over TCP to 127.0.0.1:PORT as root (no password, no TLS), then runs one
// command per standard-input line and prints one line per command:
//   query SQL      COM_QUERY, every result read      -> "ok AFFECTED" or "error CODE"
//   prepare SQL    COM_STMT_PREPARE, _EXECUTE, results read, _CLOSE
//                                                   -> "ok AFFECTED" or "error CODE" (of the
//                                                      prepare or the execute)
//   ping           COM_PING                           -> "ok 0"
// A failed connect prints "connect-error CODE" and exits 1. Usage: nl-mysql-client PORT [DB]
#include <mysql.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

namespace {

void DrainResults(MYSQL* db) {
  do {
    if (MYSQL_RES* result = mysql_store_result(db)) mysql_free_result(result);
  } while (mysql_next_result(db) == 0);
}

std::string Prepared(MYSQL* db, const std::string& sql) {
  MYSQL_STMT* stmt = mysql_stmt_init(db);
  std::string outcome;
  if (mysql_stmt_prepare(stmt, sql.data(), sql.size()) != 0 || mysql_stmt_execute(stmt) != 0) {
    outcome = "error " + std::to_string(mysql_stmt_errno(stmt));
  } else {
    const unsigned long long affected = mysql_stmt_affected_rows(stmt);
    if (mysql_stmt_field_count(stmt) > 0) mysql_stmt_store_result(stmt);
    outcome = "ok " + std::to_string(mysql_stmt_field_count(stmt) > 0 ? 0 : affected);
  }
  mysql_stmt_close(stmt);
  return outcome;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: nl-mysql-client PORT [DB] < commands\n";
    return 2;
  }
  MYSQL* db = mysql_init(nullptr);
  const unsigned int tcp = MYSQL_PROTOCOL_TCP;
  mysql_optionsv(db, MYSQL_OPT_PROTOCOL, &tcp);
  const my_bool off = 0;
  mysql_optionsv(db, MYSQL_OPT_SSL_ENFORCE, &off);
  if (!mysql_real_connect(db, "127.0.0.1", "root", nullptr, argc > 2 ? argv[2] : nullptr,
                          static_cast<unsigned>(std::atoi(argv[1])), nullptr,
                          CLIENT_MULTI_STATEMENTS)) {
    std::cout << "connect-error " << mysql_errno(db) << std::endl;
    return 1;
  }
  std::string line;
  while (std::getline(std::cin, line)) {
    const size_t space = line.find(' ');
    const std::string verb = line.substr(0, space);
    const std::string sql = space == std::string::npos ? "" : line.substr(space + 1);
    if (verb == "query") {
      if (mysql_real_query(db, sql.data(), sql.size()) != 0) {
        std::cout << "error " << mysql_errno(db) << std::endl;
        continue;
      }
      const unsigned long long affected = mysql_field_count(db) ? 0 : mysql_affected_rows(db);
      DrainResults(db);
      std::cout << "ok " << affected << std::endl;
    } else if (verb == "prepare") {
      std::cout << Prepared(db, sql) << std::endl;
    } else if (verb == "ping") {
      std::cout << (mysql_ping(db) == 0 ? "ok 0" : "error " + std::to_string(mysql_errno(db)))
                << std::endl;
    } else {
      std::cout << "unknown-verb" << std::endl;
    }
  }
  mysql_close(db);
  return 0;
}
