// Throwing errno as an exception, shared by the test support code and nl-traffic.
#pragma once

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace netlens::test {

// Throws std::runtime_error "WHAT: strerror(errno)".
[[noreturn]] inline void ThrowErrno(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

}  // namespace netlens::test
