/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Types every concern shares, kernel and user space alike: a process name, a socket's
 * addresses, who opened a connection, and the log2 histogram layout. Plain C: included by
 * the programs (with vmlinux.h) and by the daemon (with <linux/types.h>).
 */
#ifndef NETLENS_LIB_COMMON_H
#define NETLENS_LIB_COMMON_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define NL_COMM_LEN 16
/* Latency histograms: bucket b counts values below 2^(b + NL_HIST_SHIFT) ns,
 * and at least 2^(b + NL_HIST_SHIFT - 1) for b > 0 (about 1 us .. 18 min); the
 * last bucket takes everything larger. A power of two, so the index can be
 * masked (what older verifiers need to see it bounded). */
#define NL_HIST_SHIFT 10
#define NL_HIST_BUCKETS 32

/* Who opened the connection, from this host's point of view. */
enum nl_direction {
  NL_DIR_UNKNOWN = 0, /* already open when netlens started */
  NL_DIR_ACTIVE = 1,  /* this host connected */
  NL_DIR_PASSIVE = 2, /* this host accepted */
};

/* Addresses are 16 bytes; IPv4 is stored as an IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d), so one key type serves both families. Ports are host order. */
struct nl_tuple {
  __u8 local_addr[16];
  __u8 remote_addr[16];
  __u16 local_port;
  __u16 remote_port;
  __u16 family; /* AF_INET or AF_INET6: the socket's family */
  __u16 _pad;
};

/* A log2 histogram (tcp_latency and later per-request maps). */
struct nl_hist {
  __u64 buckets[NL_HIST_BUCKETS];
  __u64 sum_ns;
  __u64 count; /* left 0 by the kernel; the daemon sums the buckets (kernel_maps.cpp) */
};

#endif /* NETLENS_LIB_COMMON_H */
