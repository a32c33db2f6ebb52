// The kernel's listeners map forgets a listening socket when it closes, also one bound to port
// 0: tcp_set_state() releases such a port before the CLOSE event, and netlens once looked the
// entry up by that port, leaking one entry per ephemeral listener until the map was full
// (found by the soak test, test/soak/soak.py).
#include <catch2/catch.hpp>

#include "expect.h"
#include "netlens_process.h"

namespace netlens::test {
namespace {

double ListenerEntries(const NetlensProcess& netlens) {
  return Sum(netlens.ScrapeMetrics().samples, "netlens_map_entries", {{"map", "listeners"}});
}

TEST_CASE("listeners: closed ephemeral listeners leave the listeners map", "[listeners]") {
  NetlensProcess netlens("remote");
  const double before = ListenerEntries(netlens);
  // Each nl-traffic run listens on an ephemeral port (bind to port 0) and closes it.
  constexpr int kListeners = 20;
  for (int i = 0; i < kListeners; ++i) {
    const TrafficOptions options{.comm = UniqueComm(), .connections = 1};
    RequireHelperCalls(options, RunTraffic(options));
  }
  // Other processes of the host listen and close meanwhile too: a few entries either way.
  const double after = ListenerEntries(netlens);
  INFO("listeners map entries: " << before << " before, " << after << " after " << kListeners
                                 << " ephemeral listeners came and went");
  CHECK(after <= before + 5);
}

}  // namespace
}  // namespace netlens::test
