/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The targets and filters contract: which processes and connections are watched. The
 * programs decide when a connection entry would be created (ebpf/targets/targets.bpf.h); the
 * daemon fills every tgt_* map (daemon/targets/target_selector.cpp). Plain C.
 */
#ifndef NETLENS_TARGETS_TARGETS_H
#define NETLENS_TARGETS_TARGETS_H

#include "lib/common.h"

/* Value bits of the selector maps (tgt_pids, tgt_comms, tgt_cgroups,
 * tgt_cidrs) and of nl_target_proc.match: which list a match is on. */
#define NL_MATCH_INCLUDE 1
#define NL_MATCH_EXCLUDE 2

/* tgt_settings (array, one entry): what is configured; 0 watches everything. */
enum nl_target_flag {
  NL_TARGET_PIDS = 1 << 0,    /* pid selectors (tgt_pids) */
  NL_TARGET_COMMS = 1 << 1,   /* exact comm selectors (tgt_comms) */
  NL_TARGET_CGROUPS = 1 << 2, /* cgroup, unit, container selectors (tgt_cgroups) */
  NL_TARGET_USER = 1 << 3,    /* comm_regex, exe selectors: user space decides (tgt_procs) */
  NL_TARGET_INCLUDE = 1 << 4, /* targets.include is not empty */
  NL_FILTER_LOCAL_PORTS = 1 << 5,
  NL_FILTER_REMOTE_PORTS = 1 << 6,
  NL_FILTER_CIDRS = 1 << 7,
  NL_FILTER_INCLUDE = 1 << 8, /* filters.include is not empty */
};
#define NL_TARGET_PROCESS (NL_TARGET_PIDS | NL_TARGET_COMMS | NL_TARGET_CGROUPS | NL_TARGET_USER)
#define NL_FILTER_SOCKET (NL_FILTER_LOCAL_PORTS | NL_FILTER_REMOTE_PORTS | NL_FILTER_CIDRS)

struct nl_target_settings {
  __u32 flags; /* enum nl_target_flag */
  __u32 _pad;
};

/* tgt_procs: key = tgid; processes the kernel cannot judge alone (comm_regex,
 * exe, a cgroup user space has not listed yet). The kernel inserts PENDING and
 * asks user space (tgt_events); user space answers DECIDED with the match
 * bits of all selectors. An answer holds for the comm it was given for. */
enum nl_proc_state {
  NL_PROC_PENDING = 0,
  NL_PROC_DECIDED = 1,
};

struct nl_target_proc {
  char comm[NL_COMM_LEN];
  __u8 state; /* enum nl_proc_state */
  __u8 match; /* NL_MATCH_* */
  __u8 _pad[6];
  __u64 cgroup_id; /* the process's cgroup when it was asked about */
};

/* tgt_events (ring buffer): a process needs a decision. One per process and
 * comm, at its first connection; never per packet. */
struct nl_target_event {
  __u64 cgroup_id; /* judged even if the process is gone by the time user space reads it */
  __u32 tgid;
  char comm[NL_COMM_LEN];
  __u32 _pad;
};

/* tgt_ports (array): one bitmap of NL_PORT_WORDS u64 per list. */
enum nl_port_list {
  NL_PORTS_LOCAL_INCLUDE = 0,
  NL_PORTS_LOCAL_EXCLUDE = 1,
  NL_PORTS_REMOTE_INCLUDE = 2,
  NL_PORTS_REMOTE_EXCLUDE = 3,
  NL_PORT_LISTS = 4,
};
#define NL_PORT_WORDS 1024 /* 65536 ports / 64 */

/* tgt_cidrs (LPM trie): prefixlen counts `list` (8 bits) plus the address
 * prefix; IPv4 as IPv4-mapped IPv6 (::ffff:0:0/96 + prefix). */
struct nl_cidr_key {
  __u32 prefixlen;
  __u8 list; /* NL_MATCH_INCLUDE or NL_MATCH_EXCLUDE */
  __u8 addr[16];
  __u8 _pad[3];
};

/* tgt_stats (per-CPU array). */
enum nl_target_stat {
  NL_TSTAT_IGNORED = 0,      /* connections not watched (not given a conns entry) */
  NL_TSTAT_IGNORED_FULL = 1, /* unwatched sockets that found no room in tgt_ignored */
  NL_TSTAT_PROCS_FULL = 2,   /* pending processes that found no room in tgt_procs */
  NL_TSTAT_EVENTS_LOST = 3,  /* decision requests that found the ring buffer full */
  NL_TSTAT_MAX = 4,
};

#endif /* NETLENS_TARGETS_TARGETS_H */
