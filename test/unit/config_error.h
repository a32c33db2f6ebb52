// The error a config parser gives, for the tests of every config file's error messages.
#pragma once

#include <catch2/catch.hpp>
#include <string>

#include "config/config.h"

namespace netlens {

// The message `parse` throws for `text` (a ConfigError), or a test failure if it accepts it.
template <typename Parse>
std::string ConfigErrorOf(const Parse& parse, const std::string& text) {
  try {
    parse(text);
  } catch (const ConfigError& error) {
    return error.what();
  }
  FAIL("accepted: " << text);
  return "";
}

}  // namespace netlens
