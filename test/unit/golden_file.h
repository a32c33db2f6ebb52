// The golden-file check of the exposition tests: `text` must equal test/unit/golden/NAME.
// A deliberate change regenerates the files with
// NETLENS_UPDATE_GOLDEN=1 ./build/test/unit_tests '[golden]' and shows up in review as a diff.
#pragma once

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace netlens::testing {

inline void CheckGolden(const std::string& text, const std::string& name) {
  const std::string path = std::string(NETLENS_GOLDEN_DIR) + "/" + name;
  if (const char* update = std::getenv("NETLENS_UPDATE_GOLDEN"); update && *update == '1') {
    std::ofstream(path) << text;
    WARN("wrote " << path);
  }
  std::ifstream file(path);
  REQUIRE(file);
  std::stringstream golden;
  golden << file.rdbuf();
  CHECK(text == golden.str());
}

}  // namespace netlens::testing
