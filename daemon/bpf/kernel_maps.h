// Reads the kernel maps into a KernelSnapshot, with batched lookups.
#pragma once

#include <optional>
#include <vector>

#include "bpf/kernel_snapshot.h"
#include "bpf/tracer.h"

namespace netlens {

// Keys and values of one batch lookup, kept between scrapes.
template <typename K, typename V>
struct BatchBuffer {
  std::vector<K> keys;
  std::vector<V> values;
};

class KernelMaps {
 public:
  explicit KernelMaps(const Tracer& tracer);

  // Reads totals, then conns, then closed: the order the kernel's fold relies on
  // (see conn_track.bpf.h). With drain_closed, the closed entries read are deleted.
  // Fills `snapshot` in place: its vectors keep their capacity between scrapes.
  // `live_records`: how many tcp_live records a run of the scrape program just wrote (kernel
  // accounting); they replace the kept ones. The kept records are applied to every read's
  // conns, so a read between scrapes never shows a live connection lower than the last scrape.
  void Read(bool drain_closed, std::optional<uint32_t> live_records, KernelSnapshot& snapshot);
  // Reads and deletes tcp_closed alone, between snapshots (the service map's drain: at a
  // refresh every 10 s the map held only 1,600 closed connection ends a second).
  void DrainClosed(std::vector<std::pair<nl_closed_key, nl_conn>>& out);
  void DeleteTotals(const std::vector<nl_agg_key>& keys);
  void DeleteLatency(const std::vector<nl_hist_key>& keys);

  const MapInfo& conns() const { return conns_; }
  const MapInfo& totals() const { return totals_; }
  const MapInfo& closed() const { return closed_; }
  const MapInfo& listeners() const { return listeners_; }
  const MapInfo& latency() const { return latency_; }

 private:
  void ReadLive(uint32_t records);
  // The kept records' counters, less the entry's base, where they are higher than the entry's.
  void ApplyLive(KernelSnapshot& snapshot) const;

  MapInfo conns_, totals_, closed_, listeners_, latency_, stats_, transitions_, live_map_;
  int cpus_;
  BatchBuffer<nl_agg_key, nl_agg_value> totals_buffer_;
  BatchBuffer<uint64_t, nl_conn> conns_buffer_;
  BatchBuffer<nl_closed_key, nl_conn> closed_buffer_;
  BatchBuffer<nl_hist_key, nl_hist> latency_buffer_;
  void DeleteRead(const std::vector<std::pair<nl_closed_key, nl_conn>>& closed);
  std::vector<nl_closed_key> closed_keys_;  // the drain's, reused
  std::vector<uint32_t> live_keys_;
  std::vector<nl_live> live_records_;  // the last scrape's, sorted by sock
};

}  // namespace netlens
