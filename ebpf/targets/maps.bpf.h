/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The maps of targets and filters (keys and values in targets/targets.h); the daemon fills
 * them (daemon/targets/target_selector.cpp). */
#ifndef NETLENS_TARGETS_MAPS_BPF_H
#define NETLENS_TARGETS_MAPS_BPF_H

#include "targets/targets.h"

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct nl_target_settings);
} tgt_settings SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, __u32);  /* tgid */
  __type(value, __u8); /* NL_MATCH_* */
} tgt_pids SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, char[NL_COMM_LEN]);
  __type(value, __u8);
} tgt_comms SEC(".maps");

/* Every cgroup user space knows (value 0 when no selector matches it): a miss
 * is a cgroup created since the last scan, which user space must judge. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, __u64); /* cgroup v2 id */
  __type(value, __u8);
} tgt_cgroups SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, __u32); /* tgid */
  __type(value, struct nl_target_proc);
} tgt_procs SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 64 * 1024);
} tgt_events SEC(".maps");

/* Listening port -> 1 if the listen() caller is watched, 0 if not. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u16);
  __type(value, __u8);
} tgt_listeners SEC(".maps");

/* Sockets decided "not watched", until they close. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, __u64); /* struct sock * */
  __type(value, __u8);
} tgt_ignored SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, NL_PORT_LISTS *NL_PORT_WORDS);
  __type(key, __u32);
  __type(value, __u64);
} tgt_ports SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 1024);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct nl_cidr_key);
  __type(value, __u8);
} tgt_cidrs SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, NL_TSTAT_MAX);
  __type(key, __u32);
  __type(value, __u64);
} tgt_stats SEC(".maps");

#endif /* NETLENS_TARGETS_MAPS_BPF_H */
