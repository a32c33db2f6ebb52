// Fuzz target: /proc/PID/stat lines (daemon/process/process_info.cpp: ParseStatStartTime). The comm
// field may hold any bytes, spaces and parentheses included, so the input is parsed twice: as
// a whole stat line, and as the comm of an otherwise real line whose start time is known.
// Contract: the start time of the real line is found whatever its comm holds.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "process/process_info.h"

namespace {

// Fields 3 to 52 of a real /proc/PID/stat line after "PID (comm)"; field 22 is 987654.
constexpr std::string_view kTail =
    " S 1 1234 1234 0 -1 4194560 1155 0 0 0 12 7 0 0 20 0 1 0 987654 23142400 1520 "
    "18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::optional<uint64_t> start = netlens::ParseStatStartTime(text);
  NETLENS_FUZZ_CHECK(!start || text.find(')') != std::string_view::npos);
  const std::string line = "4242 (" + std::string(text) + ")" + std::string(kTail);
  NETLENS_FUZZ_CHECK(netlens::ParseStatStartTime(line) == std::optional<uint64_t>(987654));
  return 0;
}
