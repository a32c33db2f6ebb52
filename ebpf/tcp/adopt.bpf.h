/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kernel accounting, at start-up: the connections already open when netlens starts get their
 * entries here, owned by a process that holds them, and counted from now on (their counters
 * now are the entry's base). The daemon runs this iterator once, right after attaching the
 * lifecycle programs (Tracer::Attach): a connection made meanwhile has its entry from SYN_SENT
 * or SYN_RECV -> ESTABLISHED already, and is left as it is.
 *
 * What it cannot see: a socket held by no process's file table at that moment (in flight in
 * an SCM_RIGHTS message, or only in io_uring's fixed files), and sockets of processes when
 * targets or filters are configured (the start-up walk does not judge selectors: those
 * connections are not counted until they close, like under per-event accounting they would be
 * from their first call). Which of several processes holding one socket becomes the owner is
 * the first the walk visits.
 */
#ifndef NETLENS_TCP_ADOPT_BPF_H
#define NETLENS_TCP_ADOPT_BPF_H

#include "lib/sock.bpf.h"
#include "targets/targets.bpf.h"
#include "tcp/maps.bpf.h"
#include "tcp/socket_counters.bpf.h"

/* States past the handshake and before CLOSE: a connection with traffic to come. */
static __always_inline bool nl_adoptable_state(__u8 state) {
  return state == TCP_ESTABLISHED || state == TCP_CLOSE_WAIT || state == TCP_FIN_WAIT1 ||
         state == TCP_FIN_WAIT2 || state == TCP_CLOSING || state == TCP_LAST_ACK;
}

SEC("iter/task_file")
int nl_adopt_iter(struct bpf_iter__task_file *ctx) {
  struct task_struct *task = ctx->task;
  struct file *file = ctx->file;
  if (!task || !file || nl_target_flags()) return 0;
  struct socket *socket = bpf_sock_from_file(file);
  if (!socket) return 0;
  struct sock *sk = socket->sk;
  if (!sk || !nl_is_tcp_typed(sk) || !nl_adoptable_state(sk->__sk_common.skc_state)) return 0;
  __u64 key = (__u64)sk;
  if (bpf_map_lookup_elem(&tcp_conns, &key)) return 0; /* tracked already */

  struct nl_conn conn = {};
  nl_read_tuple(sk, &conn.tuple, true);
  conn.netns = nl_netns_of(sk, true);
  conn.direction = NL_DIR_UNKNOWN; /* who connected to whom is not kept by the socket */
  conn.established = 1;
  conn.open_ns = bpf_ktime_get_ns();
  struct task_struct *leader = task->group_leader;
  conn.pid = task->tgid;
  bpf_probe_read_kernel(conn.comm, NL_COMM_LEN, leader->comm);
  conn.start_time = leader->start_boottime;
  conn.owner = NL_OWNER_PROCESS;
  nl_socket_counters(sk, false, &conn.base); /* once, at start */
  if (bpf_map_update_elem(&tcp_conns, &key, &conn, BPF_NOEXIST) == 0) {
    nl_stat_inc(NL_STAT_ADOPTED);
  } else if (!bpf_map_lookup_elem(&tcp_conns, &key)) {
    nl_stat_inc(NL_STAT_CONNS_FULL);
  }
  return 0;
}

#endif /* NETLENS_TCP_ADOPT_BPF_H */
