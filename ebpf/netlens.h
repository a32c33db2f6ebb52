/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel/user-space contract of netlens: every map key and value the eBPF
 * programs write and the daemon reads. Included by the .bpf.c programs (with
 * vmlinux.h) and by the daemon (with <linux/types.h>); keep it plain C.
 */
#ifndef NETLENS_H
#define NETLENS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define NL_COMM_LEN 16
#define NL_TCP_STATE_SLOTS 16 /* TCP states are 1..12 (TCP_MAX_STATES is 13) */

/* Who opened the connection, from this host's point of view. */
enum nl_direction {
  NL_DIR_UNKNOWN = 0, /* already open when netlens started */
  NL_DIR_ACTIVE = 1,  /* this host connected */
  NL_DIR_PASSIVE = 2, /* this host accepted */
};

/* Where a connection's pid/comm came from; a better source replaces a worse one. */
enum nl_owner {
  NL_OWNER_NONE = 0,     /* not seen in process context yet */
  NL_OWNER_LISTENER = 1, /* inherited from the process that called listen() */
  NL_OWNER_PROCESS = 2,  /* a syscall on this socket, in process context */
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

/* Successful calls only (at least one byte moved), MSG_PEEK excluded. */
struct nl_traffic {
  __u64 bytes_sent;
  __u64 bytes_received;
  __u64 send_calls;
  __u64 receive_calls;
  __u64 retransmits;
};

/* conns map: key = the struct sock pointer, value = one live connection. */
struct nl_conn {
  struct nl_tuple tuple;
  __u32 pid; /* tgid */
  __u8 direction;
  __u8 owner;
  __u8 established; /* reached TCP_ESTABLISHED */
  __u8 _pad;
  char comm[NL_COMM_LEN];
  __u64 open_ns; /* bpf_ktime_get_ns() when netlens first saw it */
  struct nl_traffic traffic;
};

/* totals map: what closed connections and untracked events leave behind, folded
 * per process and remote endpoint. service_port is the remote port of active
 * connections and the local port of passive ones (the ephemeral port is dropped). */
struct nl_agg_key {
  __u32 pid;
  __u16 family;
  __u16 service_port;
  __u8 remote_addr[16];
  char comm[NL_COMM_LEN];
  __u8 direction;
  __u8 _pad[7];
};

struct nl_agg_value {
  struct nl_traffic traffic;   /* all folded traffic: closed connections + untracked */
  struct nl_traffic untracked; /* traffic of no per-connection entry (maps full) */
  __u64 connections_opened;    /* established, then closed */
  __u64 connections_closed;
  __u64 connect_failures; /* active connects that never reached ESTABLISHED */
};

/* closed map (connection level only): closed connections handed to user space,
 * which deletes each one once read. */
struct nl_closed_key {
  __u64 sock;
  __u64 open_ns;
};

/* listeners map: key = local port; who called listen(), for accepted connections
 * that close before their owner touches them. */
struct nl_listener {
  __u32 pid;
  char comm[NL_COMM_LEN];
};

/* settings map (array, one entry): run-time switches the daemon can flip. */
struct nl_settings {
  __u32 keep_closed; /* hand closed connections to user space (connection level) */
};

/* calls map (function attach modes): a send/receive call in progress, by thread. */
struct nl_call {
  __u64 sock;
  __u32 flags;
  __u8 is_send;
  __u8 _pad[3];
};

/* stats map (per-CPU array): the kernel side's own counters. */
enum nl_stat {
  NL_STAT_CONNS_FULL = 0,     /* events whose connection had no room in conns */
  NL_STAT_TOTALS_FULL = 1,    /* folds that went to the overflow key of totals */
  NL_STAT_CLOSED_FULL = 2,    /* closed connections that found no room in closed */
  NL_STAT_LISTENERS_FULL = 3, /* listen() calls that found no room in listeners */
  NL_STAT_CALLS_FULL = 4,     /* calls in progress that found no room in calls */
  NL_STAT_MAX = 5,
};

/* The totals key that takes what finds no room: pid 0, direction NL_DIR_OVERFLOW. */
#define NL_DIR_OVERFLOW 0xff

#endif /* NETLENS_H */
