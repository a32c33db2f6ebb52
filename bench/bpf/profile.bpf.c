// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Where the send and receive programs spend their time, for bench/ part "profile": each
 * program runs netlens' own steps (ebpf/tcp/conn_track.bpf.h) up to one more step than the
 * one before it, so that attaching them one at a time to the same traffic prices each
 * step. p_state and p_accept (netlens' state and accept programs) are attached with every
 * one of them, so connections have their direction and owner as under the daemon; the
 * object's maps are its own (a loader per measurement). */
/* vmlinux.h must come before the libbpf headers. */
// clang-format off
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
// clang-format on

#include "tcp/accept.bpf.h" /* netlens' accounting (ebpf/tcp/), with its maps */

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(p_state, struct sock *sk, int old_state, int new_state) {
  nl_on_state_typed(sk, old_state, new_state);
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int p_accept(struct nl_sys_exit_args *ctx) {
  nl_on_accept(ctx->ret);
  return 0;
}

/* Steps 0-2 of both hooks: nothing; the TCP and target checks; the tcp_conns entry. */
static __always_inline bool p_checked(struct sock *sk, int bytes) {
  return bytes > 0 && nl_is_tcp_typed(sk) && !nl_socket_ignored(sk);
}

#define P_RECV(name) \
  SEC("tp_btf/sock_recv_length") int BPF_PROG(name, struct sock *sk, int ret, int flags)
#define P_SEND(name) \
  SEC("tp_btf/sock_send_length") int BPF_PROG(name, struct sock *sk, int ret, int flags)

P_RECV(r_empty) { return 0; }

P_RECV(r_check) {
  if (!nl_recv_flags_counted(flags) || !p_checked(sk, ret)) return 0;
  return 0;
}

P_RECV(r_lookup) {
  if (!nl_recv_flags_counted(flags) || ret <= 0 || !nl_is_tcp_typed(sk)) return 0;
  struct nl_conn *conn = nl_data_conn(sk, ret, false, true);
  if (conn && conn->last_data == 0xff) conn->last_data = 0; /* keeps the lookup; never true */
  return 0;
}

P_RECV(r_count) {
  if (!nl_recv_flags_counted(flags) || ret <= 0 || !nl_is_tcp_typed(sk)) return 0;
  struct nl_conn *conn = nl_data_conn(sk, ret, false, true);
  if (conn) nl_count_data(conn, ret, false);
  return 0;
}

/* The counters and the response time, no RTT sample. */
P_RECV(r_response) {
  if (!nl_recv_flags_counted(flags) || ret <= 0 || !nl_is_tcp_typed(sk)) return 0;
  struct nl_conn *conn = nl_data_conn(sk, ret, false, true);
  if (!conn) return 0;
  nl_count_data(conn, ret, false);
  nl_track_response(conn, false);
  return 0;
}

/* The counters and the RTT sample, no response time. */
P_RECV(r_rtt) {
  if (!nl_recv_flags_counted(flags) || ret <= 0 || !nl_is_tcp_typed(sk)) return 0;
  struct nl_conn *conn = nl_data_conn(sk, ret, false, true);
  if (!conn) return 0;
  nl_count_data(conn, ret, false);
  nl_sample_rtt(sk, conn);
  return 0;
}

/* nl_recv_tp_btf. */
P_RECV(r_full) {
  if (!nl_recv_flags_counted(flags)) return 0;
  nl_on_data_typed(sk, ret, false);
  return 0;
}

P_SEND(s_empty) { return 0; }

P_SEND(s_check) {
  if (!p_checked(sk, ret)) return 0;
  return 0;
}

P_SEND(s_lookup) {
  if (ret <= 0 || !nl_is_tcp_typed(sk)) return 0;
  struct nl_conn *conn = nl_data_conn(sk, ret, true, true);
  if (conn && conn->last_data == 0xff) conn->last_data = 0; /* keeps the lookup; never true */
  return 0;
}

P_SEND(s_count) {
  if (ret <= 0 || !nl_is_tcp_typed(sk)) return 0;
  struct nl_conn *conn = nl_data_conn(sk, ret, true, true);
  if (conn) nl_count_data(conn, ret, true);
  return 0;
}

/* The counters and a clock read stored on every event (the price of one phase start). */
P_SEND(s_clock) {
  if (ret <= 0 || !nl_is_tcp_typed(sk)) return 0;
  struct nl_conn *conn = nl_data_conn(sk, ret, true, true);
  if (!conn) return 0;
  nl_count_data(conn, ret, true);
  conn->phase_ns = bpf_ktime_get_ns();
  return 0;
}

/* The counters and a histogram record on every event (the price of one response). */
P_SEND(s_record) {
  if (ret <= 0 || !nl_is_tcp_typed(sk)) return 0;
  struct nl_conn *conn = nl_data_conn(sk, ret, true, true);
  if (!conn) return 0;
  nl_count_data(conn, ret, true);
  nl_hist_record_conn(conn, NL_HIST_RESPONSE, 1000);
  return 0;
}

/* nl_send_tp_btf. */
P_SEND(s_full) {
  nl_on_data_typed(sk, ret, true);
  return 0;
}
