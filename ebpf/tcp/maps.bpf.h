/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The maps of the TCP accounting (keys and values in tcp/tcp.h). Sizes here are
 * placeholders: the daemon sets every max_entries from the config (limits.*) before loading. */
#ifndef NETLENS_TCP_MAPS_BPF_H
#define NETLENS_TCP_MAPS_BPF_H

#include "lib/percpu_stats.bpf.h"
#include "tcp/tcp.h"

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, __u64); /* struct sock * */
  __type(value, struct nl_conn);
} tcp_conns SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, struct nl_agg_key);
  __type(value, struct nl_agg_value);
} tcp_totals SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, struct nl_hist_key);
  __type(value, struct nl_hist);
} tcp_latency SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 65536); /* limits.connections, as tcp_conns */
  __type(key, __u32);
  __type(value, struct nl_live);
} tcp_live SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, struct nl_closed_key);
  __type(value, struct nl_conn);
} tcp_closed SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u16); /* local port */
  __type(value, struct nl_listener);
} tcp_listeners SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct nl_settings);
} tcp_settings SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, NL_STAT_MAX);
  __type(key, __u32);
  __type(value, __u64);
} tcp_stats SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, NL_TCP_STATE_SLOTS* NL_TCP_STATE_SLOTS);
  __type(key, __u32); /* old_state * NL_TCP_STATE_SLOTS + new_state */
  __type(value, __u64);
} tcp_transitions SEC(".maps");

/* 1 while nl_state_tp_btf runs on this CPU (hooks_tracepoint.bpf.h: its nested stand-in). */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u32);
} tcp_state_running SEC(".maps");

/* Zero values to insert from: read-only data, so no large struct on the stack. */
static const struct nl_agg_value nl_zero_agg_value = {};
static const struct nl_hist nl_zero_hist = {};

static __always_inline void nl_stat_inc(__u32 which) { nl_percpu_inc(&tcp_stats, which); }

#endif /* NETLENS_TCP_MAPS_BPF_H */
