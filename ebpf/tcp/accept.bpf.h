/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Accept latency: from the moment an accepted connection's socket is created
 * (the handshake's final ACK: SYN_RECV -> ESTABLISHED, the open_ns of its passive
 * entry; the connection enters the accept queue then) to accept()/accept4()
 * returning it. The SYN itself is seen only by the request socket, which the
 * child does not keep, so the handshake's own round trip is not included.
 *
 * Hook: the exit of the accept syscalls (classic tracepoints; kprobes and
 * fexit are not everywhere). The new fd is turned back into its struct sock
 * through the current task's file table. Runs once per accepted connection.
 */
#ifndef NETLENS_TCP_ACCEPT_BPF_H
#define NETLENS_TCP_ACCEPT_BPF_H

#include "tcp/conn_track.bpf.h"

static __always_inline void nl_on_accept(long fd) {
  if (fd < 0) return;
  struct sock *sk = nl_sock_of_fd(fd, NULL);
  if (!sk || !nl_is_tcp(sk)) return;
  __u64 sock = (__u64)sk;
  struct nl_conn *conn = bpf_map_lookup_elem(&tcp_conns, &sock);
  if (!conn || conn->direction != NL_DIR_PASSIVE) return;
  /* accept() is a syscall on the socket: its caller owns the connection now. */
  if (conn->owner != NL_OWNER_PROCESS) nl_take_owner(conn);
  nl_hist_record_conn(conn, NL_HIST_ACCEPT, bpf_ktime_get_ns() - conn->open_ns);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int nl_accept4_exit_tp(struct nl_sys_exit_args *ctx) {
  nl_on_accept(ctx->ret);
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int nl_accept_exit_tp(struct nl_sys_exit_args *ctx) {
  nl_on_accept(ctx->ret);
  return 0;
}

#endif /* NETLENS_TCP_ACCEPT_BPF_H */
