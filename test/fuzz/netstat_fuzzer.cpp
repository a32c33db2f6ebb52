// Fuzz target: /proc/net/netstat text (daemon/tcp/netstat.cpp: ParseListenQueueDrops). Contract:
// counters or nothing; a text holding a real TcpExt pair first reads as that pair's values.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "fuzz_check.h"
#include "tcp/netstat.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)netlens::ParseListenQueueDrops(text);
  // The parser takes the first TcpExt pair: whatever follows it must not change the answer.
  const std::string real = "TcpExt: SyncookiesSent ListenOverflows ListenDrops\nTcpExt: 0 17 23\n";
  const std::optional<netlens::ListenQueueDrops> drops =
      netlens::ParseListenQueueDrops(real + text);
  NETLENS_FUZZ_CHECK(drops && drops->overflows == 17 && drops->drops == 23);
  return 0;
}
