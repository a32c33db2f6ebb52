#include "tcp/netstat.h"

#include <fstream>
#include <sstream>
#include <vector>

namespace netlens {
namespace {

std::vector<std::string> Words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> words;
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

}  // namespace

std::optional<ListenQueueDrops> ParseListenQueueDrops(const std::string& netstat) {
  std::istringstream in(netstat);
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("TcpExt:", 0) != 0) continue;
    if (names.empty()) {
      names = Words(line);
      continue;
    }
    const std::vector<std::string> values = Words(line);
    if (values.size() != names.size()) return std::nullopt;
    std::optional<uint64_t> overflows, drops;
    for (size_t i = 1; i < names.size(); ++i) {
      uint64_t value = 0;
      try {
        size_t used = 0;
        value = std::stoull(values[i], &used);
        if (used != values[i].size()) return std::nullopt;
      } catch (const std::exception&) {
        return std::nullopt;
      }
      if (names[i] == "ListenOverflows") overflows = value;
      if (names[i] == "ListenDrops") drops = value;
    }
    if (!overflows || !drops) return std::nullopt;
    return ListenQueueDrops{*overflows, *drops};
  }
  return std::nullopt;
}

std::optional<ListenQueueDrops> ReadListenQueueDrops() {
  std::ifstream file("/proc/net/netstat");
  if (!file) return std::nullopt;
  std::ostringstream text;
  text << file.rdbuf();
  return ParseListenQueueDrops(text.str());
}

}  // namespace netlens
