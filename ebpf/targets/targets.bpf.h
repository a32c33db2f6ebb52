/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Targets and filters: whether a connection is watched, decided once, when its
 * entry would be created (tcp/conn_track.bpf.h), never per event. A socket not
 * watched gets no conns entry; it is marked in tgt_ignored so that its
 * events cost one lookup and no accounting. The daemon fills every map here
 * (daemon/targets/target_selector.cpp); with nothing configured tgt_settings is 0
 * and each event pays one array lookup.
 *
 * Process verdict: watched if it matches an include selector (or there is no
 * include list) and no exclude selector. pid, exact comm and cgroup (cgroup,
 * unit and container selectors, resolved by user space into cgroup ids) are
 * judged here. comm_regex and exe, or a cgroup user space has not listed yet,
 * need user space: the process is PENDING in tgt_procs, user space is asked
 * through tgt_events, and meanwhile its connections are counted
 * provisionally; the daemon drops them before aggregation if the answer is
 * "not watched" (nothing is lost for a watched process).
 *
 * Connection verdict: the process verdict (accepted connections: the
 * listener's), then the filters on local port, remote port and remote CIDR.
 */
#ifndef NETLENS_TARGETS_TARGETS_BPF_H
#define NETLENS_TARGETS_TARGETS_BPF_H

#include "lib/percpu_stats.bpf.h"
#include "lib/task.bpf.h"
#include "targets/maps.bpf.h"

static __always_inline void nl_target_stat_inc(__u32 which) { nl_percpu_inc(&tgt_stats, which); }

static __always_inline __u32 nl_target_flags(void) {
  __u32 zero = 0;
  struct nl_target_settings *s = bpf_map_lookup_elem(&tgt_settings, &zero);
  return s ? s->flags : 0;
}

/* The per-event check: one lookup, and none when nothing is configured. */
static __always_inline bool nl_socket_ignored(struct sock *sk) {
  if (!nl_target_flags()) return false;
  __u64 sock = (__u64)sk;
  return bpf_map_lookup_elem(&tgt_ignored, &sock) != NULL;
}

static __always_inline void nl_ignore_socket(__u64 sock) {
  __u8 one = 1;
  nl_target_stat_inc(NL_TSTAT_IGNORED);
  if (bpf_map_update_elem(&tgt_ignored, &sock, &one, BPF_ANY) != 0)
    nl_target_stat_inc(NL_TSTAT_IGNORED_FULL);
}

static __always_inline void nl_forget_socket(__u64 sock) {
  if (nl_target_flags()) bpf_map_delete_elem(&tgt_ignored, &sock);
}

static __always_inline __u8 nl_match_of(void *map, const void *key) {
  __u8 *match = bpf_map_lookup_elem(map, key);
  return match ? *match : 0;
}

static __always_inline bool nl_same_comm(const char *a, const char *b) {
  __u64 a0, a1, b0, b1;
  __builtin_memcpy(&a0, a, 8);
  __builtin_memcpy(&a1, a + 8, 8);
  __builtin_memcpy(&b0, b, 8);
  __builtin_memcpy(&b1, b + 8, 8);
  return a0 == b0 && a1 == b1;
}

/* Asks user space to judge the current process: PENDING entry plus an event. */
static __always_inline void nl_ask_user_space(__u32 tgid, const char *comm) {
  __u64 cgroup = bpf_get_current_cgroup_id();
  struct nl_target_proc pending = {.state = NL_PROC_PENDING, .cgroup_id = cgroup};
  __builtin_memcpy(pending.comm, comm, NL_COMM_LEN);
  if (bpf_map_update_elem(&tgt_procs, &tgid, &pending, BPF_ANY) != 0)
    nl_target_stat_inc(NL_TSTAT_PROCS_FULL);
  struct nl_target_event *event = bpf_ringbuf_reserve(&tgt_events, sizeof(*event), 0);
  if (!event) {
    nl_target_stat_inc(NL_TSTAT_EVENTS_LOST);
    return;
  }
  event->cgroup_id = cgroup;
  event->tgid = tgid;
  event->_pad = 0;
  __builtin_memcpy(event->comm, comm, NL_COMM_LEN);
  bpf_ringbuf_submit(event, 0);
}

/* Whether the current process is watched; process context only. A pending
 * process counts as watched (provisionally, see above). */
static __noinline int nl_process_watched(__u32 flags) {
  if (!(flags & NL_TARGET_PROCESS)) return 1;
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  char comm[NL_COMM_LEN] = {};
  nl_process_comm(comm);
  __u8 match = 0;
  bool cgroup_unknown = false;
  if (flags & NL_TARGET_PIDS) match |= nl_match_of(&tgt_pids, &tgid);
  if (flags & NL_TARGET_COMMS) match |= nl_match_of(&tgt_comms, comm);
  if (flags & NL_TARGET_CGROUPS) {
    __u64 cgroup = bpf_get_current_cgroup_id();
    __u8 *cgroup_match = bpf_map_lookup_elem(&tgt_cgroups, &cgroup);
    if (cgroup_match)
      match |= *cgroup_match;
    else
      cgroup_unknown = true;
  }
  if (match & NL_MATCH_EXCLUDE) return 0;
  if ((flags & NL_TARGET_USER) || cgroup_unknown) {
    struct nl_target_proc *proc = bpf_map_lookup_elem(&tgt_procs, &tgid);
    if (!proc || !nl_same_comm(proc->comm, comm)) {
      nl_ask_user_space(tgid, comm);
      return 1;
    }
    if (proc->state != NL_PROC_DECIDED) return 1;
    match |= proc->match;
    if (match & NL_MATCH_EXCLUDE) return 0;
  }
  return (match & NL_MATCH_INCLUDE) || !(flags & NL_TARGET_INCLUDE);
}

static __always_inline bool nl_port_in(__u32 list, __u16 port) {
  __u32 index = list * NL_PORT_WORDS + ((port >> 6) & (NL_PORT_WORDS - 1));
  __u64 *word = bpf_map_lookup_elem(&tgt_ports, &index);
  return word && ((*word >> (port & 63)) & 1);
}

static __always_inline __u8 nl_cidr_match(__u8 list, const __u8 addr[16]) {
  struct nl_cidr_key key = {.prefixlen = 8 + 128, .list = list};
  __builtin_memcpy(key.addr, addr, 16);
  return bpf_map_lookup_elem(&tgt_cidrs, &key) ? list : 0;
}

/* The connection filters; a local port of 0 (an active socket before its port
 * is picked) counts as a match here: every connection is judged again at
 * ESTABLISHED, on its final addresses and ports. */
static __noinline int nl_socket_passes(__u32 flags, const struct nl_tuple *t) {
  if (!(flags & NL_FILTER_SOCKET)) return 1;
  __u8 match = 0;
  if ((flags & NL_FILTER_LOCAL_PORTS) && t->local_port == 0) {
    match |= NL_MATCH_INCLUDE; /* not picked yet: judged at ESTABLISHED */
  } else if (flags & NL_FILTER_LOCAL_PORTS) {
    if (nl_port_in(NL_PORTS_LOCAL_INCLUDE, t->local_port)) match |= NL_MATCH_INCLUDE;
    if (nl_port_in(NL_PORTS_LOCAL_EXCLUDE, t->local_port)) match |= NL_MATCH_EXCLUDE;
  }
  if (flags & NL_FILTER_REMOTE_PORTS) {
    if (nl_port_in(NL_PORTS_REMOTE_INCLUDE, t->remote_port)) match |= NL_MATCH_INCLUDE;
    if (nl_port_in(NL_PORTS_REMOTE_EXCLUDE, t->remote_port)) match |= NL_MATCH_EXCLUDE;
  }
  if (flags & NL_FILTER_CIDRS) {
    match |= nl_cidr_match(NL_MATCH_INCLUDE, t->remote_addr);
    match |= nl_cidr_match(NL_MATCH_EXCLUDE, t->remote_addr);
  }
  if (match & NL_MATCH_EXCLUDE) return 0;
  return (match & NL_MATCH_INCLUDE) || !(flags & NL_FILTER_INCLUDE);
}

/* listen(): remember whether the connections this port accepts are watched. */
static __always_inline void nl_target_listener(__u16 port) {
  __u32 flags = nl_target_flags();
  if (!(flags & NL_TARGET_PROCESS)) return;
  __u8 watched = nl_process_watched(flags);
  bpf_map_update_elem(&tgt_listeners, &port, &watched, BPF_ANY);
}

/* Whether a new connection entry for sk is wanted. Unwatched sockets are
 * marked, except where no process is known yet (softirq, no listener), so
 * that process context can still decide. */
static __always_inline bool nl_conn_watched(struct sock *sk, const struct nl_tuple *t,
                                            __u8 direction, bool process_context) {
  __u32 flags = nl_target_flags();
  if (!flags) return true;
  int watched = 1;
  if (process_context) {
    watched = nl_process_watched(flags);
  } else if (flags & NL_TARGET_PROCESS) {
    __u16 port = t->local_port;
    __u8 *listener =
        direction == NL_DIR_PASSIVE ? bpf_map_lookup_elem(&tgt_listeners, &port) : NULL;
    if (!listener) return false; /* undecided: left to the first process-context event */
    watched = *listener;
  }
  /* An accepted child's remote address is set only after its SYN_RECV event on
   * some kernels (6.1): the filters judge it at ESTABLISHED. */
  if (watched && direction != NL_DIR_PASSIVE) watched = nl_socket_passes(flags, t);
  if (!watched) nl_ignore_socket((__u64)sk);
  return watched;
}

/* Traffic that found no entry (maps full, or after CLOSE) is counted only if
 * it would be watched; without a process, only when no process selector is set. */
static __always_inline bool nl_untracked_watched(const struct nl_tuple *t, bool process_context) {
  __u32 flags = nl_target_flags();
  if (!flags) return true;
  if (flags & NL_TARGET_PROCESS) {
    if (!process_context || !nl_process_watched(flags)) return false;
  }
  return nl_socket_passes(flags, t);
}

/* ESTABLISHED: addresses and ports are final only now. */
static __always_inline bool nl_established_passes(const struct nl_tuple *t) {
  __u32 flags = nl_target_flags();
  if (!(flags & NL_FILTER_SOCKET)) return true;
  return nl_socket_passes(flags, t);
}

#endif /* NETLENS_TARGETS_TARGETS_BPF_H */
