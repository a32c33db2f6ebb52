/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The keys a connection folds and records under: its process, remote endpoint and service
 * port (tcp_totals), and a histogram kind (tcp_latency). */
#ifndef NETLENS_TCP_KEYS_BPF_H
#define NETLENS_TCP_KEYS_BPF_H

#include "tcp/latency.bpf.h"
#include "tcp/tcp.h"

static __always_inline __u16 nl_service_port(const struct nl_tuple *t, __u8 direction) {
  if (direction == NL_DIR_ACTIVE) return t->remote_port;
  if (direction == NL_DIR_PASSIVE) return t->local_port;
  return t->local_port < t->remote_port ? t->local_port : t->remote_port;
}

static __always_inline void nl_agg_key_of(struct nl_agg_key *key, __u32 pid, const char *comm,
                                          const struct nl_tuple *t, __u8 direction) {
  __builtin_memset(key, 0, sizeof(*key));
  key->pid = pid;
  __builtin_memcpy(key->comm, comm, NL_COMM_LEN);
  key->family = t->family;
  key->direction = direction;
  key->service_port = nl_service_port(t, direction);
  __builtin_memcpy(key->remote_addr, t->remote_addr, 16);
}

/* The totals/latency key a connection folds into: its process (pid, start) and netns. */
static __always_inline void nl_agg_key_of_conn(struct nl_agg_key *key, const struct nl_conn *conn) {
  nl_agg_key_of(key, conn->pid, conn->comm, &conn->tuple, conn->direction);
  key->start_time = conn->start_time;
  key->netns = conn->netns;
}

/* A histogram sample under a connection's key, the key built where the lookup
 * reads it (no aggregation key built first and copied). */
static __always_inline void nl_hist_record_conn(const struct nl_conn *conn, __u32 kind, __u64 ns) {
  struct nl_hist_key key;
  nl_agg_key_of_conn(&key.agg, conn);
  key.kind = kind;
  key._pad = 0;
  nl_hist_add(&key, ns);
}

#endif /* NETLENS_TCP_KEYS_BPF_H */
