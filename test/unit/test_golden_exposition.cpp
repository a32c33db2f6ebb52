// Golden exposition, node_exporter style: a fixed kernel snapshot, aggregated and rendered by
// the TCP source's renderers, must give exactly test/unit/golden/tcp_remote.prom. A refactor
// that changes the output fails here; a deliberate change regenerates the file with
// NETLENS_UPDATE_GOLDEN=1 ./build/test/unit_tests '[golden]' and shows up in review as a diff.
#include <prometheus/text_serializer.h>

#include <catch2/catch.hpp>

#include "golden_file.h"
#include "kernel_fixtures.h"
#include "tcp/aggregator.h"
#include "tcp/tcp_families.h"

using namespace netlens;

namespace {

KernelSnapshot GoldenSnapshot() {
  KernelSnapshot snap;
  // A client and a server connection, live.
  snap.conns = {{1, Conn(4100001, "curl", NL_DIR_ACTIVE, 40000, 80, 100, 2000)},
                {2, Conn(4100002, "nginx", NL_DIR_PASSIVE, 80, 51000, 300, 40)}};
  // One closed connection of curl to the same service, and one refused connect to :443.
  nl_conn closed = Conn(4100001, "curl", NL_DIR_ACTIVE, 40001, 80, 7, 9);
  closed.traffic.retransmits = 2;
  snap.totals.push_back(Folded(closed));
  auto [refused_key, refused] = Folded(Conn(4100001, "curl", NL_DIR_ACTIVE, 40002, 443, 0, 0));
  refused = {};
  refused.connect_failures[NL_FAIL_REFUSED] = 1;
  snap.totals.push_back({refused_key, refused});
  // Two RTT samples of curl -> :80 (2 us and 40 us: buckets 1 and 6) and a 1 ms connect.
  nl_hist rtt{};
  rtt.buckets[1] = rtt.buckets[6] = 1;
  rtt.sum_ns = 42000;
  nl_hist connect{};
  connect.buckets[10] = 1;
  connect.sum_ns = 1000000;
  for (auto [kind, hist] : {std::pair{NL_HIST_RTT, rtt}, std::pair{NL_HIST_CONNECT, connect}}) {
    nl_hist_key key{};
    key.agg = Folded(closed).first;
    key.kind = kind;
    snap.latency.push_back({key, hist});
  }
  snap.transitions[1 * NL_TCP_STATE_SLOTS + 4] = 3;  // ESTABLISHED -> FIN_WAIT1
  return snap;
}

}  // namespace

TEST_CASE("the TCP families of a fixed snapshot render to the golden text", "[golden]") {
  AggregatorSettings settings;
  settings.level = Level::kRemote;
  settings.proc_root = "/nonexistent-netlens-golden";  // no /proc metadata: labels are fixed
  Aggregator aggregator(settings);
  aggregator.Update(GoldenSnapshot(), t0);
  std::vector<prometheus::MetricFamily> families;
  AppendTcpFamilies(aggregator, families);
  const std::string text = prometheus::TextSerializer().Serialize(families);

  netlens::testing::CheckGolden(text, "tcp_remote.prom");
}
