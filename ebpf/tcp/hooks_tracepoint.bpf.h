/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Tracepoint attach modes: BTF tracepoints (tp_btf: typed arguments, cheapest)
 * and classic tracepoints (tracefs events, read through CO-RE). */
#ifndef NETLENS_TCP_HOOKS_TRACEPOINT_BPF_H
#define NETLENS_TCP_HOOKS_TRACEPOINT_BPF_H

#include "lib/core_fixes.bpf.h"
#include "tcp/conn_track.bpf.h"

/* ---- send / receive: sock:sock_send_length, sock:sock_recv_length (Linux >= 6.3) ---- */

SEC("tp_btf/sock_send_length")
int BPF_PROG(nl_send_tp_btf, struct sock *sk, int ret, int flags) {
  nl_on_data_typed(sk, ret, true);
  return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(nl_recv_tp_btf, struct sock *sk, int ret, int flags) {
  if (!nl_recv_flags_counted(flags)) return 0;
  nl_on_data_typed(sk, ret, false);
  return 0;
}

SEC("tracepoint/sock/sock_send_length")
int nl_send_tp(struct trace_event_raw_sock_msg_length___nl *ctx) {
  nl_on_data((struct sock *)BPF_CORE_READ(ctx, sk), BPF_CORE_READ(ctx, ret), true);
  return 0;
}

SEC("tracepoint/sock/sock_recv_length")
int nl_recv_tp(struct trace_event_raw_sock_msg_length___nl *ctx) {
  if (!nl_recv_flags_counted(BPF_CORE_READ(ctx, flags))) return 0;
  nl_on_data((struct sock *)BPF_CORE_READ(ctx, sk), BPF_CORE_READ(ctx, ret), false);
  return 0;
}

/* ---- lifecycle: sock:inet_sock_set_state (Linux >= 4.16) ---- */

/* The kernel skips a tracing program's run that would nest into its own run on the same CPU
 * (the recursion check of __bpf_trace_run, counted as a missed run): a softirq's transition
 * (a reset, a FIN) interrupting a process-context one. nl_state_nested_tp_btf, on the same
 * tracepoint but a program of its own, takes exactly those: it acts only while nl_state_tp_btf
 * is mid-run on this CPU, which at its own turn in the tracepoint's list it never is. Left
 * uncovered: a softirq arriving in the few instructions before the flag is set or after it
 * is cleared. */
static __always_inline __u32 *nl_state_running(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&tcp_state_running, &zero);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(nl_state_tp_btf, struct sock *sk, int old_state, int new_state) {
  __u32 *running = nl_state_running();
  if (running) *running = 1;
  nl_on_state_typed(sk, old_state, new_state);
  if (running) *running = 0;
  return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(nl_state_nested_tp_btf, struct sock *sk, int old_state, int new_state) {
  __u32 *running = nl_state_running();
  if (!running || !*running) return 0;
  nl_stat_inc(NL_STAT_NESTED_STATE_CHANGES);
  nl_on_state_typed(sk, old_state, new_state);
  return 0;
}

SEC("tracepoint/sock/inet_sock_set_state")
int nl_state_tp(struct trace_event_raw_inet_sock_set_state *ctx) {
  nl_on_state((struct sock *)BPF_CORE_READ(ctx, skaddr), BPF_CORE_READ(ctx, oldstate),
              BPF_CORE_READ(ctx, newstate));
  return 0;
}

/* ---- lifecycle, the safety net: tcp:tcp_destroy_sock (Linux >= 5.12) ---- */

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(nl_destroy_tp_btf, struct sock *sk) {
  nl_on_tcp_destroy(sk, true);
  return 0;
}

SEC("tracepoint/tcp/tcp_destroy_sock")
int nl_destroy_tp(struct trace_event_raw_tcp_event_sk___nl *ctx) {
  nl_on_tcp_destroy((struct sock *)BPF_CORE_READ(ctx, skaddr), false);
  return 0;
}

/* ---- retransmits: tcp:tcp_retransmit_skb ---- */

/* The event class differs between kernels (lib/core_fixes.bpf.h). */
SEC("tracepoint/tcp/tcp_retransmit_skb")
int nl_retransmit_tp(void *ctx) {
  struct sock *sk;
  if (bpf_core_type_exists(struct trace_event_raw_tcp_retransmit_skb___nl)) {
    struct trace_event_raw_tcp_retransmit_skb___nl *args = ctx;
    if (bpf_core_field_exists(args->err) && BPF_CORE_READ(args, err) != 0) return 0;
    sk = (struct sock *)BPF_CORE_READ(args, skaddr);
  } else {
    struct trace_event_raw_tcp_event_sk_skb___nl *args = ctx;
    sk = (struct sock *)BPF_CORE_READ(args, skaddr);
  }
  nl_on_retransmit(sk);
  return 0;
}

#endif /* NETLENS_TCP_HOOKS_TRACEPOINT_BPF_H */
