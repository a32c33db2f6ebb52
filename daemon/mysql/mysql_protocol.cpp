#include "mysql/mysql_protocol.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace netlens::mysql {

std::string_view CommandName(uint8_t command) {
  switch (command) {
    case kHandshake:
      return "handshake";
    case kComQuit:
      return "COM_QUIT";
    case kComInitDb:
      return "COM_INIT_DB";
    case kComQuery:
      return "COM_QUERY";
    case kComFieldList:
      return "COM_FIELD_LIST";
    case kComStatistics:
      return "COM_STATISTICS";
    case kComProcessKill:
      return "COM_PROCESS_KILL";
    case kComPing:
      return "COM_PING";
    case kComChangeUser:
      return "COM_CHANGE_USER";
    case kComStmtPrepare:
      return "COM_STMT_PREPARE";
    case kComStmtExecute:
      return "COM_STMT_EXECUTE";
    case kComStmtSendLongData:
      return "COM_STMT_SEND_LONG_DATA";
    case kComStmtClose:
      return "COM_STMT_CLOSE";
    case kComStmtReset:
      return "COM_STMT_RESET";
    case kComSetOption:
      return "COM_SET_OPTION";
    case kComStmtFetch:
      return "COM_STMT_FETCH";
    case kComResetConnection:
      return "COM_RESET_CONNECTION";
    default:
      return "_OTHER";
  }
}

bool IsCommand(uint8_t command) { return command >= kComQuit && command <= kLastCommand; }

bool HasNoResponse(uint8_t command) {
  return command == kComQuit || command == kComStmtSendLongData || command == kComStmtClose;
}

namespace {

// Statement keywords (sorted): the operation label's values besides "_OTHER".
constexpr std::array<std::string_view, 46> kKeywords = {
    "ALTER",     "ANALYZE", "BEGIN",    "CALL",    "CHECK",   "COMMIT",  "CREATE",   "DEALLOCATE",
    "DELETE",    "DESC",    "DESCRIBE", "DO",      "DROP",    "EXECUTE", "EXPLAIN",  "FLUSH",
    "GRANT",     "HANDLER", "INSERT",   "INSTALL", "KILL",    "LOAD",    "LOCK",     "OPTIMIZE",
    "PREPARE",   "RELEASE", "RENAME",   "REPAIR",  "REPLACE", "RESET",   "REVOKE",   "ROLLBACK",
    "SAVEPOINT", "SELECT",  "SET",      "SHOW",    "START",   "TABLE",   "TRUNCATE", "UNINSTALL",
    "UNLOCK",    "UPDATE",  "USE",      "VALUES",  "WITH",    "XA"};

static_assert(std::is_sorted(kKeywords.begin(), kKeywords.end()));

}  // namespace

std::string_view OperationOf(std::string_view text, bool whole) {
  size_t i = 0;
  const auto at = [&](size_t k) { return i + k < text.size() ? text[i + k] : '\0'; };
  while (i < text.size()) {
    const char c = text[i];
    if (std::isspace(static_cast<unsigned char>(c)) || c == '(') {
      ++i;
    } else if (c == '/' && at(1) == '*') {
      const size_t end = text.find("*/", i + 2);
      if (end == std::string_view::npos) return "";
      i = end + 2;
    } else if ((c == '-' && at(1) == '-') || c == '#') {
      const size_t end = text.find('\n', i);
      if (end == std::string_view::npos) return "";
      i = end + 1;
    } else {
      break;
    }
  }
  size_t end = i;
  while (end < text.size() && std::isalpha(static_cast<unsigned char>(text[end]))) ++end;
  if (end == i) return i < text.size() ? "_OTHER" : "";
  // A keyword cut by the end of the copied bytes is not known.
  if (end == text.size() && !whole) return "";
  std::string word(text.substr(i, end - i));
  for (char& c : word) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const auto found = std::lower_bound(kKeywords.begin(), kKeywords.end(), word);
  if (found != kKeywords.end() && *found == word) return *found;
  return "_OTHER";
}

}  // namespace netlens::mysql
