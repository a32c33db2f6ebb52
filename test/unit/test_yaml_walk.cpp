// The single-document reader of config files (config/yaml_walk.cpp): what yaml-cpp's LoadAll
// looped on forever (found by test/fuzz) is an error, and everything else reads as before.
#include <catch2/catch.hpp>
#include <string>

#include "config/config.h"
#include "config/web_config.h"
#include "config_error.h"

namespace netlens {
namespace {

std::string ConfigErrorFor(const std::string& text) {
  return ConfigErrorOf([](const std::string& t) { ParseConfig(t, "t.yaml"); }, text);
}

std::string WebConfigErrorFor(const std::string& text) {
  return ConfigErrorOf([](const std::string& t) { ParseWebConfig(t, "web.yml", "/etc"); }, text);
}

}  // namespace

TEST_CASE("yaml document: a stray ',' is a second document, not an endless read", "[config]") {
  // yaml-cpp reports these as empty documents without consuming the ','.
  CHECK(ConfigErrorFor(",") ==
        "t.yaml:1:1: a second YAML document ('---'); netlens reads only one");
  CHECK(ConfigErrorFor("listen: \"127.0.0.1:9750\"\n...\n,\n") ==
        "t.yaml:3:1: a second YAML document ('---'); netlens reads only one");
  CHECK(WebConfigErrorFor(",") ==
        "web.yml:1:1: a second YAML document ('---'); netlens reads only one");
}

TEST_CASE("yaml document: one document, empty ones and syntax errors as before", "[config]") {
  CHECK(ParseConfig("", "t.yaml").listen == "127.0.0.1:9750");
  CHECK(ParseConfig("# only a comment\n", "t.yaml").listen == "127.0.0.1:9750");
  CHECK(ParseConfig("---\nlisten: \"127.0.0.1:1\"\n...\n", "t.yaml").listen == "127.0.0.1:1");
  CHECK(ConfigErrorFor("listen: \"127.0.0.1:1\"\n---\n") ==
        "t.yaml:3:1: a second YAML document ('---'); netlens reads only one");
  // A syntax error in a later document is still a syntax error.
  CHECK(ConfigErrorFor("log_level: info\n---\na: [1,\n") ==
        "t.yaml:4:1: invalid YAML: end of sequence flow not found");
}

}  // namespace netlens
