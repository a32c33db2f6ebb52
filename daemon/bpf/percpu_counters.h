// The counters of a per-CPU array map (ebpf/lib/percpu_stats.bpf.h: one u64 per slot and CPU),
// summed over the CPUs: how the optional objects' self counters are read at a scrape.
#pragma once

#include <cstdint>
#include <vector>

namespace netlens {

// slots: the map's entries; a slot that cannot be read sums to 0.
std::vector<uint64_t> SumPerCpuCounters(int map_fd, uint32_t slots);

}  // namespace netlens
