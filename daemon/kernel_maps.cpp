#include "kernel_maps.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>

namespace netlens {
namespace {

// All entries of a hash map. Batched (one syscall per 4096 entries) where the
// kernel supports it, key by key otherwise.
template <typename K, typename V>
std::vector<std::pair<K, V>> ReadHash(const MapInfo& map) {
  constexpr int kEnotsupp = 524;  // the kernel's ENOTSUPP, not in libc headers
  std::vector<K> keys(map.max_entries);
  std::vector<V> values(map.max_entries);
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  K batch_token{};
  void* in_batch = nullptr;
  size_t total = 0;
  bool batched = true;
  while (total < map.max_entries) {
    auto count = static_cast<uint32_t>(map.max_entries - total);
    const int err = bpf_map_lookup_batch(map.fd, in_batch, &batch_token, keys.data() + total,
                                         values.data() + total, &count, &opts);
    total += count;
    if (err == 0) {
      in_batch = &batch_token;
      continue;
    }
    if (errno == ENOENT) break;  // the end of the map
    batched = false;
    if (errno != EINVAL && errno != kEnotsupp)
      spdlog::warn("batched read of map {} failed: {}", map.name, std::strerror(errno));
    break;
  }
  std::vector<std::pair<K, V>> out;
  if (batched) {
    out.reserve(total);
    for (size_t i = 0; i < total; ++i) out.emplace_back(keys[i], values[i]);
    return out;
  }
  // Kernels without batch operations: key by key.
  K key{}, next{};
  for (K* previous = nullptr; bpf_map_get_next_key(map.fd, previous, &next) == 0;) {
    V value{};
    if (bpf_map_lookup_elem(map.fd, &next, &value) == 0) out.emplace_back(next, value);
    key = next;
    previous = &key;
  }
  return out;
}

// Sum over CPUs of every slot of a per-CPU array of u64.
template <size_t Slots>
std::array<uint64_t, Slots> ReadPerCpuSums(const MapInfo& map, int cpus) {
  std::array<uint64_t, Slots> sums{};
  std::vector<uint64_t> per_cpu(cpus);
  for (uint32_t slot = 0; slot < Slots; ++slot) {
    if (bpf_map_lookup_elem(map.fd, &slot, per_cpu.data()) != 0) continue;
    for (uint64_t v : per_cpu) sums[slot] += v;
  }
  return sums;
}

size_t CountKeys(const MapInfo& map) {
  uint16_t key = 0, next = 0;
  size_t n = 0;
  for (uint16_t* previous = nullptr; bpf_map_get_next_key(map.fd, previous, &next) == 0;) {
    ++n;
    key = next;
    previous = &key;
  }
  return n;
}

}  // namespace

KernelMaps::KernelMaps(const Tracer& tracer)
    : conns_(tracer.map("conns")),
      totals_(tracer.map("totals")),
      closed_(tracer.map("closed")),
      listeners_(tracer.map("listeners")),
      latency_(tracer.map("latency")),
      stats_(tracer.map("stats")),
      transitions_(tracer.map("state_transitions")),
      cpus_(libbpf_num_possible_cpus()) {}

KernelSnapshot KernelMaps::Read(bool drain_closed) {
  KernelSnapshot snapshot;
  snapshot.totals = ReadHash<nl_agg_key, nl_agg_value>(totals_);
  snapshot.conns = ReadHash<uint64_t, nl_conn>(conns_);
  snapshot.closed = ReadHash<nl_closed_key, nl_conn>(closed_);
  if (drain_closed) {
    for (const auto& [key, conn] : snapshot.closed) bpf_map_delete_elem(closed_.fd, &key);
  }
  snapshot.latency = ReadHash<nl_hist_key, nl_hist>(latency_);
  snapshot.stats = ReadPerCpuSums<NL_STAT_MAX>(stats_, cpus_);
  snapshot.transitions =
      ReadPerCpuSums<NL_TCP_STATE_SLOTS * NL_TCP_STATE_SLOTS>(transitions_, cpus_);
  snapshot.listeners = CountKeys(listeners_);
  return snapshot;
}

void KernelMaps::DeleteTotals(const std::vector<nl_agg_key>& keys) {
  for (const auto& key : keys) bpf_map_delete_elem(totals_.fd, &key);
}

void KernelMaps::DeleteLatency(const std::vector<nl_hist_key>& keys) {
  for (const auto& key : keys) bpf_map_delete_elem(latency_.fd, &key);
}

}  // namespace netlens
