/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The maps of netlens. Sizes here are placeholders: the daemon sets every
 * max_entries from the config (limits.*) before loading. */
#ifndef NETLENS_MAPS_BPF_H
#define NETLENS_MAPS_BPF_H

#include "netlens.h"

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, __u64); /* struct sock * */
  __type(value, struct nl_conn);
} conns SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, struct nl_agg_key);
  __type(value, struct nl_agg_value);
} totals SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, struct nl_hist_key);
  __type(value, struct nl_hist);
} latency SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, struct nl_closed_key);
  __type(value, struct nl_conn);
} closed SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u16); /* local port */
  __type(value, struct nl_listener);
} listeners SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct nl_settings);
} settings SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, struct nl_proc_key);
  __type(value, __u64); /* cgroup id */
} proc_cgroups SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, NL_STAT_MAX);
  __type(key, __u32);
  __type(value, __u64);
} stats SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, NL_TCP_STATE_SLOTS* NL_TCP_STATE_SLOTS);
  __type(key, __u32); /* old_state * NL_TCP_STATE_SLOTS + new_state */
  __type(value, __u64);
} state_transitions SEC(".maps");

/* Zero values to insert from: read-only data, so no large struct on the stack. */
static const struct nl_agg_value nl_zero_agg_value = {};
static const struct nl_hist nl_zero_hist = {};

static __always_inline void nl_stat_inc(__u32 which) {
  __u64* count = bpf_map_lookup_elem(&stats, &which);
  if (count) *count += 1; /* per-CPU: no atomics needed */
}

#endif /* NETLENS_MAPS_BPF_H */
