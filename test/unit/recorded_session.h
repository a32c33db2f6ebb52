// Recorded sessions (test/unit/*_fixtures/*.txt): one socket call of the client per line,
// "W hex" (the client wrote) or "R hex" (it read), '#' lines commented.
#pragma once

#include <catch2/catch.hpp>
#include <fstream>
#include <string>
#include <vector>

#include "http/segment.h"

namespace netlens::testing {

struct RecordedCall {
  http::Direction direction;
  std::string bytes;
};

inline std::vector<RecordedCall> RecordedSession(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in);
  std::vector<RecordedCall> calls;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    RecordedCall call{line[0] == 'W' ? http::Direction::kWrite : http::Direction::kRead, {}};
    for (size_t i = 2; i + 1 < line.size(); i += 2) {
      call.bytes.push_back(static_cast<char>(std::stoi(line.substr(i, 2), nullptr, 16)));
    }
    calls.push_back(std::move(call));
  }
  return calls;
}

}  // namespace netlens::testing
