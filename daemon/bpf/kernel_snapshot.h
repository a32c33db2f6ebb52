// One scrape's copy of the kernel maps: plain data, the input of the Aggregator.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "ebpf/tcp/tcp.h"

namespace netlens {

struct KernelSnapshot {
  std::vector<std::pair<nl_agg_key, nl_agg_value>> totals;
  std::vector<std::pair<uint64_t, nl_conn>> conns;        // live, keyed by struct sock *
  std::vector<std::pair<nl_closed_key, nl_conn>> closed;  // closed since the last scrape
  std::vector<std::pair<nl_hist_key, nl_hist>> latency;
  std::array<uint64_t, NL_STAT_MAX> stats{};  // summed over CPUs
  std::array<uint64_t, NL_TCP_STATE_SLOTS * NL_TCP_STATE_SLOTS> transitions{};
  size_t listeners = 0;
};

}  // namespace netlens
