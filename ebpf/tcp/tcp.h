/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The TCP accounting contract: every key and value of the tcp_* maps, which the programs
 * under ebpf/tcp/ write and the daemon reads (daemon/bpf/kernel_maps.cpp). Plain C.
 */
#ifndef NETLENS_TCP_TCP_H
#define NETLENS_TCP_TCP_H

#include "lib/common.h"

#define NL_TCP_STATE_SLOTS 16 /* TCP states are 1..12 (TCP_MAX_STATES is 13) */

/* Where a connection's pid/comm came from; a better source replaces a worse one. */
enum nl_owner {
  NL_OWNER_NONE = 0,     /* not seen in process context yet */
  NL_OWNER_LISTENER = 1, /* inherited from the process that called listen() */
  NL_OWNER_PROCESS = 2,  /* a syscall on this socket, in process context */
};

/* Why an active connect failed, from sk_err when it closed. */
enum nl_connect_failure {
  NL_FAIL_REFUSED = 0,     /* ECONNREFUSED: RST to the SYN */
  NL_FAIL_TIMEOUT = 1,     /* ETIMEDOUT: SYN retries exhausted */
  NL_FAIL_RESET = 2,       /* ECONNRESET */
  NL_FAIL_UNREACHABLE = 3, /* EHOSTUNREACH, ENETUNREACH (ICMP) */
  NL_FAIL_ABORTED = 4,     /* closed by the application before the handshake ended */
  NL_FAIL_OTHER = 5,
  NL_FAIL_REASONS = 6,
};

/* Which direction moved data last on a connection (response-time tracking). */
enum nl_data_dir {
  NL_DATA_NONE = 0,
  NL_DATA_SENT = 1,
  NL_DATA_RECEIVED = 2,
};

/* Successful calls only (at least one byte moved), MSG_PEEK excluded. */
struct nl_traffic {
  __u64 bytes_sent;
  __u64 bytes_received;
  __u64 send_calls;
  __u64 receive_calls;
  __u64 retransmits;
};

/* Kernel accounting: the socket's counters when netlens first saw it, subtracted from every
 * later read; zero for connections seen from their start (SYN_SENT, SYN_RECV). */
struct nl_counter_base {
  __u64 bytes_sent;
  __u64 bytes_received;
  __u64 retransmits;
};

/* tcp_conns: key = the struct sock pointer, value = one live connection. */
struct nl_conn {
  struct nl_tuple tuple;
  __u32 pid; /* tgid */
  __u8 direction;
  __u8 owner;
  __u8 established;   /* reached TCP_ESTABLISHED */
  __u8 counters_read; /* kernel accounting: a lifecycle run read the socket's counters into it */
  char comm[NL_COMM_LEN];
  __u64 open_ns;        /* bpf_ktime_get_ns() when netlens first saw it */
  __u64 established_ns; /* when it reached ESTABLISHED; 0 if not seen */
  __u64 phase_ns;       /* server: first byte of the request read; client: last byte sent */
  __u8 last_data;       /* enum nl_data_dir */
  __u8 _pad2[7];
  struct nl_traffic traffic;
  __u64 start_time; /* the owner's start, boot-clock ns (task->group_leader->start_boottime) */
  __u32 netns;      /* inode of the socket's network namespace (sk->skc_net->ns.inum) */
  __u32 _pad3;
  struct nl_counter_base base; /* kernel accounting: counted from here (tcp/adopt.bpf.h) */
};

/* tcp_live (array, kernel accounting): what one scrape's run of nl_socket_counters_run found,
 * one record per live connection in slots 0..N-1 (N: the run's return value). The run never
 * writes into tcp_conns: an entry it visits may be deleted and its memory reused for another
 * connection while it reads; user space takes a record only for the entry with the same sock
 * and open_ns, and applies that entry's base. */
struct nl_live {
  __u64 sock;
  __u64 open_ns;
  struct nl_counter_base counters; /* the socket's counters, base not subtracted */
};

/* tcp_totals: what closed connections and untracked events leave behind, folded
 * per process and remote endpoint. service_port is the remote port of active
 * connections and the local port of passive ones (the ephemeral port is dropped).
 * A process is (pid, start_time): a reused pid never adds to an old key. start_time
 * is in boot-clock ns, what /proc/PID/stat field 22 shows in clock ticks. */
struct nl_agg_key {
  __u32 pid;
  __u16 family;
  __u16 service_port;
  __u8 remote_addr[16];
  char comm[NL_COMM_LEN];
  __u8 direction;
  __u8 _pad[3];
  __u32 netns; /* network namespace inode of the socket */
  __u64 start_time;
};

struct nl_agg_value {
  struct nl_traffic traffic;   /* all folded traffic: closed connections + untracked */
  struct nl_traffic untracked; /* traffic of no per-connection entry (maps full) */
  __u64 connections_opened;    /* established, then closed */
  __u64 connections_closed;
  __u64 connect_failures[NL_FAIL_REASONS]; /* active connects that never reached ESTABLISHED */
};

/* tcp_latency: a histogram per (process, remote endpoint) and kind. */
enum nl_hist_kind {
  NL_HIST_RTT = 0,      /* smoothed RTT (srtt), sampled on receive */
  NL_HIST_CONNECT = 1,  /* SYN_SENT -> ESTABLISHED */
  NL_HIST_LIFETIME = 2, /* ESTABLISHED -> CLOSE */
  NL_HIST_RESPONSE = 3, /* server: request read -> response written; client: sent -> reply */
  NL_HIST_ACCEPT = 4,   /* accepted socket created (handshake done) -> accept() returns it */
  NL_HIST_KINDS = 5,
};

struct nl_hist_key {
  struct nl_agg_key agg;
  __u32 kind;
  __u32 _pad;
};

/* tcp_closed (connection level only): closed connections handed to user space,
 * which deletes each one once read. */
struct nl_closed_key {
  __u64 sock;
  __u64 open_ns;
};

/* tcp_listeners: key = local port; who called listen(), for accepted connections
 * that close before their owner touches them. */
struct nl_listener {
  __u32 pid;
  char comm[NL_COMM_LEN];
  __u32 _pad;
  __u64 start_time;
};

/* tcp_settings (array, one entry): run-time switches the daemon can flip. */
struct nl_settings {
  __u32 keep_closed; /* hand closed connections to user space (connection level) */
};

/* tcp_calls (function attach modes): a send/receive call in progress, by thread. */
struct nl_call {
  __u64 sock;
  __u32 flags;
  __u8 is_send;
  __u8 _pad[3];
};

/* tcp_stats (per-CPU array): the kernel side's own counters. */
enum nl_stat {
  NL_STAT_CONNS_FULL = 0,     /* events whose connection had no room in tcp_conns */
  NL_STAT_TOTALS_FULL = 1,    /* folds that went to the overflow key of tcp_totals */
  NL_STAT_CLOSED_FULL = 2,    /* closed connections that found no room in tcp_closed */
  NL_STAT_LISTENERS_FULL = 3, /* listen() calls that found no room in tcp_listeners */
  NL_STAT_CALLS_FULL = 4,     /* calls in progress that found no room in tcp_calls */
  NL_STAT_LATENCY_FULL = 5,   /* samples that went to the overflow key of tcp_latency */
  /* connections closed at tcp_destroy_sock: their CLOSE run was missed */
  NL_STAT_LATE_CLOSES = 6,
  /* connections open before netlens started, found at start-up */
  NL_STAT_ADOPTED = 7,
  /* entries that outlived their socket, neither its CLOSE nor its destroy seen */
  NL_STAT_STALE_ENTRIES = 8,
  /* live connections a scrape found no tcp_live slot for */
  NL_STAT_LIVE_FULL = 9,
  /* kernel accounting: established entries folded with the socket's counters never read into
   * them (conn_track.bpf.h lists how): what they carried since their last lifecycle read is
   * lost, at most one connection's bytes each */
  NL_STAT_UNREAD_FOLDS = 10,
  /* state changes the kernel skipped in nl_state_tp_btf, nested into its own run on the CPU,
   * and nl_state_nested_tp_btf took instead */
  NL_STAT_NESTED_STATE_CHANGES = 11,
  NL_STAT_MAX = 12,
};

/* The tcp_totals key that takes what finds no room: pid 0, direction NL_DIR_OVERFLOW. */
#define NL_DIR_OVERFLOW 0xff

#endif /* NETLENS_TCP_TCP_H */
