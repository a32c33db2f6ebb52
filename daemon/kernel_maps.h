// Reads the kernel maps into a KernelSnapshot, with batched lookups.
#pragma once

#include <vector>

#include "kernel_snapshot.h"
#include "tracer.h"

namespace netlens {

class KernelMaps {
 public:
  explicit KernelMaps(const Tracer& tracer);

  // Reads totals, then conns, then closed: the order the kernel's fold relies on
  // (see conn_track.bpf.h). With drain_closed, the closed entries read are deleted.
  KernelSnapshot Read(bool drain_closed);
  void DeleteTotals(const std::vector<nl_agg_key>& keys);
  void DeleteLatency(const std::vector<nl_hist_key>& keys);

  const MapInfo& conns() const { return conns_; }
  const MapInfo& totals() const { return totals_; }
  const MapInfo& closed() const { return closed_; }
  const MapInfo& listeners() const { return listeners_; }
  const MapInfo& latency() const { return latency_; }

 private:
  MapInfo conns_, totals_, closed_, listeners_, latency_, stats_, transitions_;
  int cpus_;
};

}  // namespace netlens
