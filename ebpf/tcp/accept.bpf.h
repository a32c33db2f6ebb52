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

/* syscalls:sys_exit_accept{,4}: the layout of every sys_exit_* event (tracefs format). */
struct nl_sys_exit_args {
  __u64 common; /* common_type, flags, preempt_count, pid */
  int syscall_nr;
  long ret;
};

/* The socket behind fd in the current task, or NULL. */
static __always_inline struct sock *nl_sock_of_fd(long fd) {
  struct task_struct *task = (struct task_struct *)bpf_get_current_task();
  struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
  if (!fdt || fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds)) return NULL;
  struct file **fds = BPF_CORE_READ(fdt, fd);
  struct file *file = NULL;
  if (bpf_core_read(&file, sizeof(file), &fds[fd]) != 0 || !file) return NULL;
  struct socket *sock = (struct socket *)BPF_CORE_READ(file, private_data);
  if (!sock) return NULL;
  return BPF_CORE_READ(sock, sk);
}

static __always_inline void nl_on_accept(long fd) {
  if (fd < 0) return;
  struct sock *sk = nl_sock_of_fd(fd);
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
