#include "bpf/percpu_counters.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

namespace netlens {

std::vector<uint64_t> SumPerCpuCounters(int map_fd, uint32_t slots) {
  const int cpus = libbpf_num_possible_cpus();
  std::vector<uint64_t> per_cpu(cpus > 0 ? cpus : 1);
  std::vector<uint64_t> sums(slots, 0);
  for (uint32_t slot = 0; slot < slots; ++slot) {
    if (bpf_map_lookup_elem(map_fd, &slot, per_cpu.data()) != 0) continue;
    for (uint64_t value : per_cpu) sums[slot] += value;
  }
  return sums;
}

}  // namespace netlens
