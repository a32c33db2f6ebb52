/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Scrape-time programs (kernel accounting): attached to nothing, run by the daemon itself with
 * BPF_PROG_TEST_RUN before it reads the maps (Tracer::ReadSocketCounters). A raw_tp program
 * because the kernel runs those on demand (Linux >= 5.10) and lets them probe-read kernel
 * memory; bpf_for_each_map_elem needs Linux >= 5.13. Neither iter/tcp (it walks only the
 * network namespace of the process that runs it, and every socket in it) nor an iterator over
 * map elements (refused with EPERM on some hosts) serves here. */
#ifndef NETLENS_TCP_HOOKS_SCRAPE_BPF_H
#define NETLENS_TCP_HOOKS_SCRAPE_BPF_H

#include "tcp/conn_track.bpf.h"
#include "tcp/socket_counters.bpf.h"

/* nl_fold_stale's reading of a socket found in CLOSE: its fields and final counters. */
struct nl_stale_read {
  struct nl_tcp_fields fields;
  struct nl_counter_base final;
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct nl_stale_read);
} tcp_stale_counters SEC(".maps");

/* Set by the daemon before loading: tcp_live's max_entries (limits.connections). */
const volatile __u32 nl_live_slots = 65536;

/* Whether sk has the family and ports an established conn was made for. */
static __always_inline bool nl_socket_has_ports(struct sock *sk, const struct nl_conn *conn) {
  return BPF_CORE_READ(sk, __sk_common.skc_family) == conn->tuple.family &&
         BPF_CORE_READ(sk, __sk_common.skc_num) == conn->tuple.local_port &&
         bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport)) == conn->tuple.remote_port;
}

/* The same for a socket in CLOSE: its CLOSE released its local port (inet_put_port zeroes
 * skc_num, found by the unread-fold test); inet_sport keeps it. */
static __always_inline bool nl_closed_socket_has_ports(struct sock *sk,
                                                       const struct nl_conn *conn) {
  return BPF_CORE_READ(sk, __sk_common.skc_family) == conn->tuple.family &&
         bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport)) == conn->tuple.local_port &&
         bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport)) == conn->tuple.remote_port;
}

/* Whether sk is still the socket an established conn was made for. An entry normally lives
 * from its socket's first transition to its CLOSE or tcp_destroy_sock; but under heavy churn
 * an entry now and then outlives its socket with neither seen (the labels test: about one in
 * 5,000 short connections; the soak: one in 350,000; no missed run counted). Its memory then
 * holds a freed socket (state CLOSE: the CLOSE run, had it run, comes before the state is
 * stored) or another TCP socket (SLAB_TYPESAFE_BY_RCU: never anything else, so the probe reads
 * are safe): a listener, a connect in progress, or a connection with other ports. SYN_RECV
 * with the entry's ports is the connection itself: an accepted one's entry is made in its
 * SYN_RECV -> ESTABLISHED run, which comes before the state is stored. */
static __always_inline bool nl_socket_is_conn(struct sock *sk, __u8 state,
                                              const struct nl_conn *conn) {
  if (state == TCP_CLOSE || state == TCP_LISTEN || state == TCP_SYN_SENT) return false;
  return nl_socket_has_ports(sk, conn);
}

/* A subprogram: inlined, the entry's copy in the callback's frame failed the 6.18 verifier.
 * `closed`: sk is in CLOSE with the entry's ports, so it is the entry's socket (one reset and
 * not yet close()d, one reset in the accept queue, or one freed whose memory is not reused yet:
 * a new socket there would have folded the entry at its first transition), and its counters are
 * final: read them into the fold (path 2 in tcp/conn_track.bpf.h). Otherwise the memory is
 * another socket's, and the entry folds what its last lifecycle read left in it. */
static __noinline void nl_fold_stale(__u64 sock, const struct nl_conn *conn, bool closed) {
  nl_stat_inc(NL_STAT_STALE_ENTRIES);
  const __u32 zero = 0;
  /* In a map, not on the stack: this frame is the third of nl_socket_counters_run's four, and
   * Linux 6.1 refuses a combined stack of over 512 bytes (544 with the reading on the stack). */
  struct nl_stale_read *read = closed ? bpf_map_lookup_elem(&tcp_stale_counters, &zero) : NULL;
  struct nl_counter_base *final = NULL;
  if (read) {
    __builtin_memset(&read->final, 0, sizeof(read->final));
    if (nl_tcp_fields((struct sock *)sock, false, &read->fields))
      nl_counters_of(&read->fields, &read->final);
    final = &read->final;
  }
  /* One fold for both cases (NULL: what the entry's last lifecycle read left in it), so that
   * its code is inlined once: two copies made this frame too big for 6.1 too. sk_err only
   * matters to connects that failed. */
  nl_conn_fold(sock, conn, 0, final);
}

/* Where the next record goes; slots is tcp_live's size. */
struct nl_live_cursor {
  __u32 next;
  __u32 slots;
};

/* One live connection: a record of its counters now, and an RTT sample; an established entry
 * that outlived its socket is closed and folded now, with the counters of its last lifecycle
 * read (at the latest its close()), instead of showing a connection open that is gone. */
static long nl_refresh_conn(struct bpf_map *map, __u64 *sock, struct nl_conn *conn,
                            struct nl_live_cursor *cursor) {
  if (!conn->established) return 0; /* nothing counted yet; the ports are final later */
  __u64 key = *sock, open_ns = conn->open_ns;
  struct sock *sk = (struct sock *)key;
  __u8 state = BPF_CORE_READ(sk, __sk_common.skc_state);
  if (!nl_socket_is_conn(sk, state, conn)) {
    /* Per-event accounting counted the entry's bytes itself: nothing to read. */
    nl_fold_stale(
        key, conn,
        nl_kernel_accounting && state == TCP_CLOSE && nl_closed_socket_has_ports(sk, conn));
    return 0;
  }
  /* Per-event accounting runs this program for the stale check only: no records. */
  if (!nl_kernel_accounting) return 0;
  __u32 slot = cursor->next;
  struct nl_live *live = slot < cursor->slots ? bpf_map_lookup_elem(&tcp_live, &slot) : NULL;
  if (!live) {
    nl_stat_inc(NL_STAT_LIVE_FULL);
    return 1; /* stop: no room (tcp_live is as large as tcp_conns: not expected) */
  }
  struct nl_tcp_fields f;
  if (!nl_tcp_fields(sk, false, &f)) return 0;
  live->sock = key;
  live->open_ns = open_ns;
  nl_counters_of(&f, &live->counters);
  cursor->next = slot + 1;
  nl_record_srtt(conn, f.srtt_us);
  return 0;
}

/* Every tracked connection, in every network namespace; returns how many records it wrote.
 * Per-event accounting runs it too, at each scrape: an entry whose CLOSE and tcp_destroy_sock
 * were both unseen would otherwise show a connection open until its memory is reused, its
 * close uncounted (the labels test, one in about 20 runs). */
SEC("raw_tp")
int nl_socket_counters_run(void *ctx) {
  struct nl_live_cursor cursor = {.next = 0, .slots = nl_live_slots};
  bpf_for_each_map_elem(&tcp_conns, nl_refresh_conn, &cursor, 0);
  return cursor.next;
}

#endif /* NETLENS_TCP_HOOKS_SCRAPE_BPF_H */
