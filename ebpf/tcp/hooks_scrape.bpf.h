/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Scrape-time programs (kernel accounting): attached to nothing, run by the daemon itself with
 * BPF_PROG_TEST_RUN before it reads the maps (Tracer::ReadSocketCounters). A raw_tp program
 * because the kernel runs those on demand (Linux >= 5.10) and lets them probe-read kernel
 * memory; bpf_for_each_map_elem needs Linux >= 5.13. Neither iter/tcp (it walks only the
 * network namespace of the process that runs it, and every socket in it) nor an iterator over
 * map elements (refused with EPERM on some hosts) serves here. */
#ifndef NETLENS_TCP_HOOKS_SCRAPE_BPF_H
#define NETLENS_TCP_HOOKS_SCRAPE_BPF_H

#include "tcp/socket_counters.bpf.h"

/* One live connection: its counters now, and an RTT sample. An entry lives from its socket's
 * first transition to its CLOSE (or its tcp_destroy_sock), so the socket is alive while it is
 * visited; the reads are probe reads all the same (TCP sockets are SLAB_TYPESAFE_BY_RCU). */
static long nl_refresh_conn(struct bpf_map *map, __u64 *sock, struct nl_conn *conn, void *ctx) {
  struct sock *sk = (struct sock *)*sock;
  nl_read_socket_counters(sk, conn);
  nl_sample_socket_rtt(sk, conn);
  return 0;
}

/* Every tracked connection, in every network namespace; returns how many were visited. */
SEC("raw_tp")
int nl_socket_counters_run(void *ctx) {
  return bpf_for_each_map_elem(&tcp_conns, nl_refresh_conn, NULL, 0);
}

#endif /* NETLENS_TCP_HOOKS_SCRAPE_BPF_H */
