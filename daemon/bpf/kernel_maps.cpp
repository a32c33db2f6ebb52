#include "bpf/kernel_maps.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace netlens {
namespace {

// One syscall for all the keys (BPF_MAP_DELETE_BATCH, Linux >= 5.6): a drain of the closed
// connections of a busy host was a syscall per connection. The batch stops at a key that is
// gone (ENOENT) or where the kernel lacks it; the rest go one by one, a missing one ignored.
template <typename K>
void DeleteKeys(int fd, const std::vector<K>& keys) {
  if (keys.empty()) return;
  __u32 count = static_cast<__u32>(keys.size());
  if (bpf_map_delete_batch(fd, keys.data(), &count, nullptr) == 0 && count == keys.size()) return;
  for (size_t i = std::min<size_t>(count, keys.size()); i < keys.size(); ++i)
    bpf_map_delete_elem(fd, &keys[i]);
}

// Entries fetched per batch syscall. The read buffers are this size (grown only
// when a hash bucket holds more), so a scrape costs memory by live entries, not
// by the map's capacity.
constexpr uint32_t kBatchEntries = 1024;

// All entries of a hash map, appended to `out` (cleared first, its capacity
// kept between scrapes). Batched where the kernel supports it, key by key
// otherwise.
template <typename K, typename V>
void ReadHash(const MapInfo& map, BatchBuffer<K, V>& buffer, std::vector<std::pair<K, V>>& out) {
  constexpr int kEnotsupp = 524;  // the kernel's ENOTSUPP, not in libc headers
  out.clear();
  if (buffer.keys.empty()) {
    buffer.keys.resize(std::min(kBatchEntries, std::max(map.max_entries, 1u)));
    buffer.values.resize(buffer.keys.size());
  }
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  K batch_token{};
  void* in_batch = nullptr;
  bool batched = true;
  for (;;) {
    auto count = static_cast<uint32_t>(buffer.keys.size());
    const int err = bpf_map_lookup_batch(map.fd, in_batch, &batch_token, buffer.keys.data(),
                                         buffer.values.data(), &count, &opts);
    const int error = errno;
    for (uint32_t i = 0; i < count; ++i) out.emplace_back(buffer.keys[i], buffer.values[i]);
    if (err == 0) {
      in_batch = &batch_token;
      continue;
    }
    if (error == ENOENT) break;           // the end of the map
    if (error == ENOSPC && count == 0) {  // one bucket holds more than the buffer
      buffer.keys.resize(buffer.keys.size() * 2);
      buffer.values.resize(buffer.keys.size());
      continue;
    }
    batched = false;
    if (error != EINVAL && error != kEnotsupp)
      spdlog::warn("batched read of map {} failed: {}", map.name, std::strerror(error));
    break;
  }
  if (batched) return;
  // Kernels without batch operations: key by key.
  out.clear();
  K key{}, next{};
  for (K* previous = nullptr; bpf_map_get_next_key(map.fd, previous, &next) == 0;) {
    V value{};
    if (bpf_map_lookup_elem(map.fd, &next, &value) == 0) out.emplace_back(next, value);
    key = next;
    previous = &key;
  }
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
    : conns_(tracer.maps().tcp_conns),
      totals_(tracer.maps().tcp_totals),
      closed_(tracer.maps().tcp_closed),
      listeners_(tracer.maps().tcp_listeners),
      latency_(tracer.maps().tcp_latency),
      stats_(tracer.maps().tcp_stats),
      transitions_(tracer.maps().tcp_transitions),
      live_map_(tracer.maps().tcp_live),
      cpus_(libbpf_num_possible_cpus()) {}

void KernelMaps::ReadLive(uint32_t records) {
  records = std::min(records, live_map_.max_entries);
  live_keys_.resize(records);
  live_records_.resize(records);
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  uint32_t done = 0, token = 0;
  void* in_batch = nullptr;
  while (done < records) {
    uint32_t count = records - done;
    const int err = bpf_map_lookup_batch(live_map_.fd, in_batch, &token, &live_keys_[done],
                                         &live_records_[done], &count, &opts);
    done += count;
    if (err != 0) break;  // ENOENT: the end of the array
    in_batch = &token;
  }
  if (done < records) {  // kernels without batch operations on arrays: slot by slot
    for (uint32_t slot = done; slot < records; ++slot) {
      if (bpf_map_lookup_elem(live_map_.fd, &slot, &live_records_[slot]) != 0)
        live_records_[slot] = nl_live{};
    }
  }
  std::sort(live_records_.begin(), live_records_.end(),
            [](const nl_live& a, const nl_live& b) { return a.sock < b.sock; });
}

void KernelMaps::ApplyLive(KernelSnapshot& snapshot) const {
  if (live_records_.empty()) return;
  const auto since = [](__u64 now, __u64 base) -> __u64 { return now > base ? now - base : 0; };
  for (auto& [sock, conn] : snapshot.conns) {
    const auto it = std::lower_bound(live_records_.begin(), live_records_.end(), sock,
                                     [](const nl_live& live, uint64_t s) { return live.sock < s; });
    if (it == live_records_.end() || it->sock != sock || it->open_ns != conn.open_ns) continue;
    nl_traffic& traffic = conn.traffic;
    traffic.bytes_sent =
        std::max(traffic.bytes_sent, since(it->counters.bytes_sent, conn.base.bytes_sent));
    traffic.bytes_received = std::max(traffic.bytes_received,
                                      since(it->counters.bytes_received, conn.base.bytes_received));
    traffic.retransmits =
        std::max(traffic.retransmits, since(it->counters.retransmits, conn.base.retransmits));
  }
}

void KernelMaps::Read(bool drain_closed, std::optional<uint32_t> live_records,
                      KernelSnapshot& snapshot) {
  if (live_records) ReadLive(*live_records);
  ReadHash(totals_, totals_buffer_, snapshot.totals);
  ReadHash(conns_, conns_buffer_, snapshot.conns);
  ApplyLive(snapshot);
  ReadHash(closed_, closed_buffer_, snapshot.closed);
  if (drain_closed) DeleteRead(snapshot.closed);
  ReadHash(latency_, latency_buffer_, snapshot.latency);
  // The kernel keeps no count (latency.bpf.h): every record is in exactly one bucket.
  for (auto& [key, hist] : snapshot.latency) {
    hist.count = 0;
    for (uint64_t n : hist.buckets) hist.count += n;
  }
  snapshot.stats = ReadPerCpuSums<NL_STAT_MAX>(stats_, cpus_);
  snapshot.transitions =
      ReadPerCpuSums<NL_TCP_STATE_SLOTS * NL_TCP_STATE_SLOTS>(transitions_, cpus_);
  snapshot.listeners = CountKeys(listeners_);
}

void KernelMaps::DrainClosed(std::vector<std::pair<nl_closed_key, nl_conn>>& out) {
  ReadHash(closed_, closed_buffer_, out);
  DeleteRead(out);
}

void KernelMaps::DeleteRead(const std::vector<std::pair<nl_closed_key, nl_conn>>& closed) {
  closed_keys_.clear();
  for (const auto& [key, conn] : closed) closed_keys_.push_back(key);
  DeleteKeys(closed_.fd, closed_keys_);
}

void KernelMaps::DeleteTotals(const std::vector<nl_agg_key>& keys) { DeleteKeys(totals_.fd, keys); }

void KernelMaps::DeleteLatency(const std::vector<nl_hist_key>& keys) {
  DeleteKeys(latency_.fd, keys);
}

}  // namespace netlens
