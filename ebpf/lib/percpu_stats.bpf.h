/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Self counters in per-CPU arrays (tcp_stats, tgt_stats): no atomics needed. */
#ifndef NETLENS_LIB_PERCPU_STATS_BPF_H
#define NETLENS_LIB_PERCPU_STATS_BPF_H

static __always_inline void nl_percpu_inc(void *map, __u32 which) {
  __u64 *count = bpf_map_lookup_elem(map, &which);
  if (count) *count += 1;
}

#endif /* NETLENS_LIB_PERCPU_STATS_BPF_H */
