/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kernel accounting (accounting: kernel, the default): a connection's bytes and retransmits
 * are the kernel's own per-socket TCP counters (struct tcp_sock, RFC 4898's), not counted by
 * netlens per send or receive. They are read
 *   - when the connection closes, by the lifecycle program that already runs then (CLOSE, or
 *     tcp_destroy_sock when that run was missed), before the entry is folded into totals;
 *   - for live connections at each scrape, by nl_socket_counters_run (tcp/hooks_scrape.bpf.h),
 *     which the daemon runs over tcp_conns before it reads the map: a scrape costs one visit per
 *     live tracked connection, in every network namespace, and nothing per packet.
 * No program of this mode is attached to the send/receive path.
 *
 * What the counters mean (docs/metrics.md): sent is payload transmitted at least once
 * (bytes_sent - bytes_retrans: no SYN, no FIN, no retransmission); received is payload
 * received in order (bytes_received, less the FIN's one sequence number once it came), read by
 * the application or not; retransmits is total_retrans, in segments.
 */
#ifndef NETLENS_TCP_SOCKET_COUNTERS_BPF_H
#define NETLENS_TCP_SOCKET_COUNTERS_BPF_H

#include "tcp/keys.bpf.h"
#include "tcp/maps.bpf.h"

/* Set by the daemon before loading: 1 = kernel accounting, 0 = per-event (send/receive hooks). */
const volatile __u32 nl_kernel_accounting = 1;

/* The tcp_sock fields the counters come from. */
struct nl_tcp_fields {
  __u64 sent, retransmitted, received, flags;
  __u32 total_retrans, srtt_us;
};

/* Whether a BTF-typed sk can be turned into a BTF-typed tcp_sock (Linux >= 5.9). */
#define NL_HAVE_SKC_TO_TCP_SOCK \
  bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_skc_to_tcp_sock)

/* Plain loads where sk is BTF-typed (`typed`, the tp_btf programs: one helper call instead of
 * six probe reads), CO-RE probe reads where it is not (classic tracepoints, kprobes, the scrape
 * program, whose socket pointers are map keys). */
static __always_inline bool nl_tcp_fields(struct sock *sk, bool typed, struct nl_tcp_fields *f) {
  if (typed && NL_HAVE_SKC_TO_TCP_SOCK) {
    struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
    if (!tp) return false;
    f->sent = tp->bytes_sent;
    f->retransmitted = tp->bytes_retrans;
    f->received = tp->bytes_received;
    f->flags = tp->inet_conn.icsk_inet.sk.__sk_common.skc_flags;
    f->total_retrans = tp->total_retrans;
    f->srtt_us = tp->srtt_us;
    return true;
  }
  struct tcp_sock *tp = (struct tcp_sock *)sk;
  f->sent = BPF_CORE_READ(tp, bytes_sent);
  f->retransmitted = BPF_CORE_READ(tp, bytes_retrans);
  f->received = BPF_CORE_READ(tp, bytes_received);
  f->flags = BPF_CORE_READ(sk, __sk_common.skc_flags); /* sk_flags */
  f->total_retrans = BPF_CORE_READ(tp, total_retrans);
  f->srtt_us = BPF_CORE_READ(tp, srtt_us);
  return true;
}

/* The socket's counters as nl_traffic counts them (sent, received, retransmits). */
static __always_inline void nl_counters_of(const struct nl_tcp_fields *f,
                                           struct nl_counter_base *out) {
  __u64 received = f->received;
  /* tcp_fin() sets SOCK_DONE when the peer's FIN arrives in order, after rcv_nxt (and with it
   * bytes_received) moved past the FIN's sequence number. */
  if (received && (f->flags & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_DONE)))) received--;
  out->bytes_sent = f->sent > f->retransmitted ? f->sent - f->retransmitted : 0;
  out->bytes_received = received;
  out->retransmits = f->total_retrans;
}

static __always_inline void nl_socket_counters(struct sock *sk, bool typed,
                                               struct nl_counter_base *out) {
  struct nl_tcp_fields f;
  if (nl_tcp_fields(sk, typed, &f)) nl_counters_of(&f, out);
}

static __always_inline __u64 nl_since(__u64 now, __u64 base) { return now > base ? now - base : 0; }

/* The socket's counters, less the entry's base, into conn->traffic; CO-RE probe reads (a
 * transition-time or scrape-time cost, never per packet). The counters only grow while the
 * socket lives; never backwards all the same: two readers (a scrape, a transition) may store
 * out of order. */
static __always_inline void nl_apply_counters(const struct nl_counter_base *now,
                                              struct nl_conn *conn) {
  __u64 sent = nl_since(now->bytes_sent, conn->base.bytes_sent);
  __u64 received = nl_since(now->bytes_received, conn->base.bytes_received);
  __u64 retransmits = nl_since(now->retransmits, conn->base.retransmits);
  if (sent > conn->traffic.bytes_sent) conn->traffic.bytes_sent = sent;
  if (received > conn->traffic.bytes_received) conn->traffic.bytes_received = received;
  if (retransmits > conn->traffic.retransmits) conn->traffic.retransmits = retransmits;
}

/* The smoothed RTT (tcp_sock.srtt_us, in 1/8 us) as a sample of the connection's RTT histogram. */
static __always_inline void nl_record_srtt(const struct nl_conn *conn, __u32 srtt_us_x8) {
  __u32 srtt_us = srtt_us_x8 >> 3;
  if (srtt_us && conn->established) nl_hist_record_conn(conn, NL_HIST_RTT, (__u64)srtt_us * 1000);
}

/* The counters now into conn, where a lifecycle program already holds the entry (kernel
 * accounting); `final`: before a closing connection is folded (CLOSE, or tcp_destroy_sock after
 * a missed CLOSE), with one last sample of the smoothed RTT. */
static __always_inline void nl_socket_counters_into(struct sock *sk, struct nl_conn *conn,
                                                    bool typed, bool final) {
  if (!nl_kernel_accounting) return;
  struct nl_tcp_fields f;
  if (!nl_tcp_fields(sk, typed, &f)) return;
  struct nl_counter_base now;
  nl_counters_of(&f, &now);
  nl_apply_counters(&now, conn);
  conn->counters_read = 1; /* a fold of an entry without this loses its bytes (conn_track) */
  if (final) nl_record_srtt(conn, f.srtt_us);
}

static __always_inline void nl_current_socket_counters(struct sock *sk, struct nl_conn *conn,
                                                       bool typed) {
  nl_socket_counters_into(sk, conn, typed, false);
}

static __always_inline void nl_final_socket_counters(struct sock *sk, struct nl_conn *conn,
                                                     bool typed) {
  nl_socket_counters_into(sk, conn, typed, true);
}

#endif /* NETLENS_TCP_SOCKET_COUNTERS_BPF_H */
