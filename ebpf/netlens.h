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
/* Latency histograms: bucket b counts values below 2^(b + NL_HIST_SHIFT) ns,
 * and at least 2^(b + NL_HIST_SHIFT - 1) for b > 0 (about 1 us .. 18 min); the
 * last bucket takes everything larger. A power of two, so the index can be
 * masked (what older verifiers need to see it bounded). */
#define NL_HIST_SHIFT 10
#define NL_HIST_BUCKETS 32
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

/* conns map: key = the struct sock pointer, value = one live connection. */
struct nl_conn {
  struct nl_tuple tuple;
  __u32 pid; /* tgid */
  __u8 direction;
  __u8 owner;
  __u8 established; /* reached TCP_ESTABLISHED */
  __u8 _pad;
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
};

/* totals map: what closed connections and untracked events leave behind, folded
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

/* latency map: a histogram per (process, remote endpoint) and kind. */
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

struct nl_hist {
  __u64 buckets[NL_HIST_BUCKETS];
  __u64 sum_ns;
  __u64 count; /* left 0 by the kernel; the daemon sums the buckets (kernel_maps.cpp) */
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
  __u32 _pad;
  __u64 start_time;
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
  NL_STAT_LATENCY_FULL = 5,   /* samples that went to the overflow key of latency */
  NL_STAT_LATE_CLOSES = 6, /* connections closed at tcp_destroy_sock: their CLOSE run was missed */
  NL_STAT_MAX = 7,
};

/* proc_cgroups (LRU hash, limits.processes): a process's cgroup v2 id (its
 * directory's inode), taken in process context where its identity is, so that
 * one that exits before user space reads /proc still gets its cgroup labels. */
struct nl_proc_key {
  __u32 pid;
  __u32 _pad;
  __u64 start_time; /* as in nl_agg_key */
};

/* The totals key that takes what finds no room: pid 0, direction NL_DIR_OVERFLOW. */
#define NL_DIR_OVERFLOW 0xff

/* ---- Targets and filters: which processes and connections are watched ----
 * (ebpf/filters.bpf.h decides when a connection entry is created; the daemon's
 * target_selector.cpp fills the maps.) */

/* Value bits of the selector maps (target_pids, target_comms, target_cgroups,
 * filter_cidrs) and of nl_target_proc.match: which list a match is on. */
#define NL_MATCH_INCLUDE 1
#define NL_MATCH_EXCLUDE 2

/* target_settings (array, one entry): what is configured; 0 watches everything. */
enum nl_target_flag {
  NL_TARGET_PIDS = 1 << 0,    /* pid selectors (target_pids) */
  NL_TARGET_COMMS = 1 << 1,   /* exact comm selectors (target_comms) */
  NL_TARGET_CGROUPS = 1 << 2, /* cgroup, unit, container selectors (target_cgroups) */
  NL_TARGET_USER = 1 << 3,    /* comm_regex, exe selectors: user space decides (target_procs) */
  NL_TARGET_INCLUDE = 1 << 4, /* targets.include is not empty */
  NL_FILTER_LOCAL_PORTS = 1 << 5,
  NL_FILTER_REMOTE_PORTS = 1 << 6,
  NL_FILTER_CIDRS = 1 << 7,
  NL_FILTER_INCLUDE = 1 << 8, /* filters.include is not empty */
};
#define NL_TARGET_PROCESS (NL_TARGET_PIDS | NL_TARGET_COMMS | NL_TARGET_CGROUPS | NL_TARGET_USER)
#define NL_FILTER_SOCKET (NL_FILTER_LOCAL_PORTS | NL_FILTER_REMOTE_PORTS | NL_FILTER_CIDRS)

struct nl_target_settings {
  __u32 flags; /* enum nl_target_flag */
  __u32 _pad;
};

/* target_procs: key = tgid; processes the kernel cannot judge alone (comm_regex,
 * exe, a cgroup user space has not listed yet). The kernel inserts PENDING and
 * asks user space (target_events); user space answers DECIDED with the match
 * bits of all selectors. An answer holds for the comm it was given for. */
enum nl_proc_state {
  NL_PROC_PENDING = 0,
  NL_PROC_DECIDED = 1,
};

struct nl_target_proc {
  char comm[NL_COMM_LEN];
  __u8 state; /* enum nl_proc_state */
  __u8 match; /* NL_MATCH_* */
  __u8 _pad[6];
  __u64 cgroup_id; /* the process's cgroup when it was asked about */
};

/* target_events (ring buffer): a process needs a decision. One per process and
 * comm, at its first connection; never per packet. */
struct nl_target_event {
  __u64 cgroup_id; /* judged even if the process is gone by the time user space reads it */
  __u32 tgid;
  char comm[NL_COMM_LEN];
  __u32 _pad;
};

/* filter_ports (array): one bitmap of NL_PORT_WORDS u64 per list. */
enum nl_port_list {
  NL_PORTS_LOCAL_INCLUDE = 0,
  NL_PORTS_LOCAL_EXCLUDE = 1,
  NL_PORTS_REMOTE_INCLUDE = 2,
  NL_PORTS_REMOTE_EXCLUDE = 3,
  NL_PORT_LISTS = 4,
};
#define NL_PORT_WORDS 1024 /* 65536 ports / 64 */

/* filter_cidrs (LPM trie): prefixlen counts `list` (8 bits) plus the address
 * prefix; IPv4 as IPv4-mapped IPv6 (::ffff:0:0/96 + prefix). */
struct nl_cidr_key {
  __u32 prefixlen;
  __u8 list; /* NL_MATCH_INCLUDE or NL_MATCH_EXCLUDE */
  __u8 addr[16];
  __u8 _pad[3];
};

/* target_stats (per-CPU array). */
enum nl_target_stat {
  NL_TSTAT_IGNORED = 0,      /* connections not watched (not given a conns entry) */
  NL_TSTAT_IGNORED_FULL = 1, /* unwatched sockets that found no room in ignored_socks */
  NL_TSTAT_PROCS_FULL = 2,   /* pending processes that found no room in target_procs */
  NL_TSTAT_EVENTS_LOST = 3,  /* decision requests that found the ring buffer full */
  NL_TSTAT_MAX = 4,
};

#endif /* NETLENS_H */
