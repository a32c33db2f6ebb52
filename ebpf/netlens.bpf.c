// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* netlens hooks, BTF tracepoint (tp_btf) attach mode. Each program only adapts
 * its hook's arguments to conn_track.bpf.h. */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "conn_track.bpf.h"

#define NL_MSG_PEEK 0x2
#define NL_MSG_ERRQUEUE 0x2000

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/sock_send_length")
int BPF_PROG(nl_send_tp_btf, struct sock *sk, int ret, int flags) {
  nl_on_data(sk, ret, true);
  return 0;
}

/* Peeked data is read again later; the error queue carries no payload. */
SEC("tp_btf/sock_recv_length")
int BPF_PROG(nl_recv_tp_btf, struct sock *sk, int ret, int flags) {
  if (flags & (NL_MSG_PEEK | NL_MSG_ERRQUEUE)) return 0;
  nl_on_data(sk, ret, false);
  return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(nl_state_tp_btf, struct sock *sk, int old_state, int new_state) {
  nl_on_state(sk, old_state, new_state);
  return 0;
}

/* A classic tracepoint, whose context layout CO-RE can describe on every
 * kernel: the event class was renamed, and gained `err` (the tracepoint then
 * also fires for failed attempts), in newer kernels. */
struct trace_event_raw_tcp_retransmit_skb___nl {
  const void *skaddr;
  int err;
} __attribute__((preserve_access_index));

struct trace_event_raw_tcp_event_sk_skb___nl {
  const void *skaddr;
} __attribute__((preserve_access_index));

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
