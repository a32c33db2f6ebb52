/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Connection accounting, independent of how a hook is attached: every attach
 * mode (BTF tracepoint here; fentry/kprobe later) is a thin wrapper that calls
 * nl_on_data(), nl_on_state() or nl_on_retransmit() with a struct sock pointer.
 * Socket fields are read with BPF_CORE_READ where the pointer is not BTF-typed
 * (kprobes, classic tracepoints) and with plain loads where it is (the tp_btf
 * programs, through the *_typed entry points): see NL_SK_READ.
 */
#ifndef NETLENS_TCP_CONN_TRACK_BPF_H
#define NETLENS_TCP_CONN_TRACK_BPF_H

#include "lib/sock.bpf.h"
#include "lib/task.bpf.h"
#include "process/cgroups.bpf.h"
#include "targets/targets.bpf.h"
#include "tcp/keys.bpf.h"
#include "tcp/maps.bpf.h"
#include "tcp/socket_counters.bpf.h"

#define NL_MSG_PEEK 0x2
#define NL_MSG_ERRQUEUE 0x2000

/* Peeked data is read again later; the error queue carries no payload. */
static __always_inline bool nl_recv_flags_counted(int flags) {
  return !(flags & (NL_MSG_PEEK | NL_MSG_ERRQUEUE));
}

/* Only called where the current task is the one acting on the socket. */
static __always_inline void nl_take_owner(struct nl_conn *conn) {
  conn->pid = bpf_get_current_pid_tgid() >> 32;
  nl_process_comm(conn->comm);
  conn->start_time = nl_process_start_time();
  conn->owner = NL_OWNER_PROCESS;
  nl_note_cgroup(conn->pid, conn->start_time);
}

/* The totals entry for key; created on first use, the overflow entry (inserted
 * by the daemon before attach) when totals is full. */
static __always_inline struct nl_agg_value *nl_totals_entry(struct nl_agg_key *key) {
  struct nl_agg_value *value = bpf_map_lookup_elem(&tcp_totals, key);
  if (value) return value;
  bpf_map_update_elem(&tcp_totals, key, &nl_zero_agg_value, BPF_NOEXIST); /* lookup decides */
  value = bpf_map_lookup_elem(&tcp_totals, key);
  if (value) return value;
  nl_stat_inc(NL_STAT_TOTALS_FULL);
  __builtin_memset(key, 0, sizeof(*key));
  key->direction = NL_DIR_OVERFLOW;
  return bpf_map_lookup_elem(&tcp_totals, key);
}

static __always_inline void nl_traffic_add(struct nl_traffic *dst, const struct nl_traffic *src) {
  if (src->bytes_sent) __sync_fetch_and_add(&dst->bytes_sent, src->bytes_sent);
  if (src->bytes_received) __sync_fetch_and_add(&dst->bytes_received, src->bytes_received);
  if (src->send_calls) __sync_fetch_and_add(&dst->send_calls, src->send_calls);
  if (src->receive_calls) __sync_fetch_and_add(&dst->receive_calls, src->receive_calls);
  if (src->retransmits) __sync_fetch_and_add(&dst->retransmits, src->retransmits);
}

static __always_inline bool nl_keep_closed(void) {
  __u32 zero = 0;
  struct nl_settings *s = bpf_map_lookup_elem(&tcp_settings, &zero);
  return s && s->keep_closed;
}

static __always_inline __u32 nl_failure_reason(int sk_err) {
  switch (sk_err) {
    case 111: /* ECONNREFUSED */
      return NL_FAIL_REFUSED;
    case 110: /* ETIMEDOUT */
      return NL_FAIL_TIMEOUT;
    case 104: /* ECONNRESET */
      return NL_FAIL_RESET;
    case 113: /* EHOSTUNREACH */
    case 101: /* ENETUNREACH */
      return NL_FAIL_UNREACHABLE;
    case 0:
      return NL_FAIL_ABORTED;
    default:
      return NL_FAIL_OTHER;
  }
}

/* Folds that carry no counters (kernel accounting). An entry's bytes reach it only through a
 * lifecycle read: the peer's FIN (CLOSE_WAIT), its close() or shutdown() (FIN_WAIT1, LAST_ACK:
 * process context, a run the kernel does not skip for recursion), its CLOSE or its
 * tcp_destroy_sock (the final counters, then the fold),
 * or the scrape's stale check finding its socket in CLOSE (tcp/hooks_scrape.bpf.h). The scrape's
 * records of live connections go to user space only. An established entry folded with none of
 * these (counters_read 0) folds none of its bytes; NL_STAT_UNREAD_FOLDS counts it. The paths:
 *   1. Closed without close() reading it (an abortive close: SO_LINGER 0 or unread data; a reset
 *      from the peer; tcp_disconnect; a listener's close dropping connections not accepted),
 *      its CLOSE and tcp_destroy_sock runs both skipped (misses in one softirq go together) or
 *      no tcp_destroy_sock (Linux < 5.12), and then folded by a new socket at its address
 *      (SYN_SENT, SYN_RECV -> ESTABLISHED, LISTEN, below) or by a scrape finding another socket
 *      there: the memory holds the new socket, the old counters are gone. Not fixable here.
 *   2. The same, the scrape finding the socket itself in CLOSE (alive until close(), or in the
 *      accept queue, or freed and not reused): fixed, the scrape reads its counters first.
 *   3. An adopted entry (tcp/adopt.bpf.h: its base read, not its traffic) folded as in 1.
 *   4. The scrape's stale check taking a live connection's entry as stale: a bug each time
 *      (a5fe8aa fixed one); nl_socket_is_conn says which states are not the connection.
 *   5. An accepted connection whose LAST_ACK, CLOSE and tcp_destroy_sock no program saw, with
 *      no missed run counted, its memory then reused (a debug build's history of every run at
 *      the socket's address, in the soak: CLOSE_WAIT seen, then nothing until a new socket
 *      there). Its CLOSE_WAIT read now keeps its bytes where the peer closed first.
 * Not paths: a process exiting without close() (the kernel's close of its files runs tcp_close:
 * FIN_WAIT1 or LAST_ACK as usual, in the exiting task); pid reuse (a key is pid and start time).
 * Connections that never got an entry lose everything, connection count included, unless
 * something starts one before CLOSE: close() does (nl_on_tcp_state); an abortive close or a
 * reset (CLOSE straight from ESTABLISHED or CLOSE_WAIT) does now too, and with no room in
 * tcp_conns both fold the socket's counters into totals directly (NL_STAT_CONNS_FULL). Such a
 * connection had its SYN_RECV -> ESTABLISHED run skipped (accepted), or found no room. */

/* Connection closed: delete it, hand it to user space (connection level), then fold it into
 * totals. Delete-before-fold with user space reading totals before conns (and conns before
 * closed) means a scrape can miss a closing connection once, never count it twice. Only the
 * closer whose delete succeeds folds: a CLOSE, a tcp_destroy_sock and a scrape's stale-entry
 * check may race for one entry. sk_err says why a connect failed. */
/* Inlined: as a subprogram its frame and the state program's together pass the 512 bytes
 * Linux 6.1 allows for a call chain ("combined stack size of 2 calls is 576"). `read`: the
 * socket's counters, read by a caller that must not write the entry (the scrape), or NULL. */
static __always_inline void nl_conn_fold(__u64 sock, const struct nl_conn *live, int sk_err,
                                         const struct nl_counter_base *read) {
  struct nl_conn conn = *live;
  if (read) {
    nl_apply_counters(read, &conn);
    conn.counters_read = 1;
  }
  if (bpf_map_delete_elem(&tcp_conns, &sock) != 0) return; /* folded by another, or later */
  if (nl_kernel_accounting && conn.established && !conn.counters_read)
    nl_stat_inc(NL_STAT_UNREAD_FOLDS);
  bool keep_closed = conn.established && nl_keep_closed();
  bool handed_off = false;
  if (keep_closed) {
    struct nl_closed_key closed_key = {.sock = sock, .open_ns = conn.open_ns};
    handed_off = bpf_map_update_elem(&tcp_closed, &closed_key, &conn, BPF_NOEXIST) == 0;
    if (!handed_off) nl_stat_inc(NL_STAT_CLOSED_FULL);
  }

  struct nl_agg_key key;
  nl_agg_key_of_conn(&key, &conn);
  if (conn.established_ns)
    nl_hist_record(&key, NL_HIST_LIFETIME, bpf_ktime_get_ns() - conn.established_ns);
  struct nl_agg_value *total = nl_totals_entry(&key);
  if (!total) return;
  if (conn.established) {
    __sync_fetch_and_add(&total->connections_opened, 1);
    __sync_fetch_and_add(&total->connections_closed, 1);
  } else if (conn.direction == NL_DIR_ACTIVE) {
    __u32 reason = nl_failure_reason(sk_err);
    if (reason < NL_FAIL_REASONS) __sync_fetch_and_add(&total->connect_failures[reason], 1);
  }
  nl_traffic_add(&total->traffic, &conn.traffic);
  if (keep_closed && !handed_off) nl_traffic_add(&total->untracked, &conn.traffic);
}

static __always_inline void nl_conn_close_entry(__u64 sock, const struct nl_conn *live,
                                                int sk_err) {
  nl_conn_fold(sock, live, sk_err, NULL);
}

static __always_inline void nl_conn_close(__u64 sock, int sk_err) {
  struct nl_conn *live = bpf_map_lookup_elem(&tcp_conns, &sock);
  if (live) nl_conn_close_entry(sock, live, sk_err);
}

/* How nl_conn_start starts an entry. */
enum nl_start {
  /* The socket's first transition (SYN_SENT; SYN_RECV -> ESTABLISHED of an accepted one): an
   * entry already under its pointer was left by a freed socket whose CLOSE we did not see. */
  NL_START_FIRST = 1,
  NL_START_ESTABLISHED = 2, /* the connection is established (now, or before we saw it) */
  NL_START_PROCESS = 4,     /* process context: the current process owns it */
  NL_START_LISTENER = 8,    /* accepted: owned by its listener's process until accept() */
  NL_START_ENTRY = 16,      /* the caller wants the entry: one more lookup */
};

/* The owner of an accepted connection until its accept(): the process that listens. */
static __always_inline void nl_take_listener(struct nl_conn *conn) {
  __u16 port = conn->tuple.local_port;
  struct nl_listener *listener = bpf_map_lookup_elem(&tcp_listeners, &port);
  if (!listener) return;
  conn->pid = listener->pid;
  conn->start_time = listener->start_time;
  __builtin_memcpy(conn->comm, listener->comm, NL_COMM_LEN);
  conn->owner = NL_OWNER_LISTENER;
}

/* Start tracking sk. With NL_START_FIRST, a stale entry under the pointer is folded first,
 * watched or not (else it would take this socket's events and bytes: found by the labels test,
 * whose unwatched burst reuses the memory), so nothing it counted is lost. Otherwise (callers
 * that found no entry) one there now was made meanwhile by another program, and is returned.
 * The stale entry is folded before this one is built: the two copies of an entry do not fit
 * the stack together (Linux 6.1's 512 bytes). The entry is complete when it is inserted, so
 * the callers that only start one (NL_START_ENTRY unset) pay no lookup after it. */
static __always_inline struct nl_conn *nl_conn_start(struct sock *sk, __u8 direction, __u32 how,
                                                     bool typed) {
  __u64 sock = (__u64)sk;
  if (how & NL_START_FIRST) {
    struct nl_conn *stale = bpf_map_lookup_elem(&tcp_conns, &sock);
    if (stale) {
      nl_stat_inc(NL_STAT_STALE_ENTRIES);
      nl_conn_close_entry(sock, stale, 0);
    }
  }
  bool process_context = how & NL_START_PROCESS;
  struct nl_conn conn = {};
  nl_read_tuple(sk, &conn.tuple, typed);
  conn.netns = nl_netns_of(sk, typed);
  conn.direction = direction;
  conn.open_ns = bpf_ktime_get_ns();
  if (how & NL_START_ESTABLISHED) {
    conn.established = 1;
    conn.established_ns = conn.open_ns;
  }
  if (!nl_conn_watched(sk, &conn.tuple, direction, process_context)) return NULL;
  if (process_context) nl_take_owner(&conn);
  if (how & NL_START_LISTENER) nl_take_listener(&conn);
  if (bpf_map_update_elem(&tcp_conns, &sock, &conn, BPF_NOEXIST) != 0) {
    struct nl_conn *raced = bpf_map_lookup_elem(&tcp_conns, &sock);
    if (!raced) nl_stat_inc(NL_STAT_CONNS_FULL);
    return raced;
  }
  return (how & NL_START_ENTRY) ? bpf_map_lookup_elem(&tcp_conns, &sock) : NULL;
}

/* The entry of a socket we may not have seen open (it predates netlens). */
static __always_inline struct nl_conn *nl_conn_get(struct sock *sk, bool process_context,
                                                   bool typed) {
  __u64 sock = (__u64)sk;
  struct nl_conn *conn = bpf_map_lookup_elem(&tcp_conns, &sock);
  if (conn) return conn;
  /* After CLOSE a new entry would never be folded: such stragglers go to totals. */
  if (NL_SK_READ(typed, sk, __sk_common.skc_state) == TCP_CLOSE) return NULL;
  return nl_conn_start(
      sk, NL_DIR_UNKNOWN,
      NL_START_ESTABLISHED | NL_START_ENTRY | (process_context ? NL_START_PROCESS : 0), typed);
}

/* Traffic that found no connection entry goes straight into totals. */
static __always_inline void nl_account_untracked(struct sock *sk, const struct nl_traffic *delta,
                                                 bool process_context, bool typed) {
  struct nl_tuple tuple;
  nl_read_tuple(sk, &tuple, typed);
  if (!nl_untracked_watched(&tuple, process_context)) return;
  __u32 pid = 0;
  char comm[NL_COMM_LEN] = {};
  __u64 start_time = 0;
  if (process_context) {
    pid = bpf_get_current_pid_tgid() >> 32;
    nl_process_comm(comm);
    start_time = nl_process_start_time();
    nl_note_cgroup(pid, start_time);
  }
  struct nl_agg_key key;
  nl_agg_key_of(&key, pid, comm, &tuple, NL_DIR_UNKNOWN);
  key.start_time = start_time;
  key.netns = nl_netns_of(sk, typed);
  struct nl_agg_value *total = nl_totals_entry(&key);
  if (!total) return;
  nl_traffic_add(&total->traffic, delta);
  nl_traffic_add(&total->untracked, delta);
}

/* The connection's byte and call counters. */
static __always_inline void nl_count_data(struct nl_conn *conn, int bytes, bool is_send) {
  if (is_send) {
    __sync_fetch_and_add(&conn->traffic.bytes_sent, bytes);
    __sync_fetch_and_add(&conn->traffic.send_calls, 1);
  } else {
    __sync_fetch_and_add(&conn->traffic.bytes_received, bytes);
    __sync_fetch_and_add(&conn->traffic.receive_calls, 1);
  }
}

/* Response time, from the order of sends and receives on one connection:
 * a server answers from the first byte of a request read to the first byte
 * of the response written; a client waits from its last byte written to the
 * first byte read back. */
static __always_inline void nl_track_response(struct nl_conn *conn, bool is_send) {
  __u8 last = conn->last_data;
  conn->last_data = is_send ? NL_DATA_SENT : NL_DATA_RECEIVED;
  if (conn->direction == NL_DIR_UNKNOWN) return;
  /* The clock is read only on the events that start or end a phase. */
  bool server = conn->direction == NL_DIR_PASSIVE;
  if (server && !is_send && last != NL_DATA_RECEIVED) {
    conn->phase_ns = bpf_ktime_get_ns();
  } else if (!server && is_send) {
    conn->phase_ns = bpf_ktime_get_ns();
  } else if (conn->phase_ns &&
             ((server && last == NL_DATA_RECEIVED) || (!server && last == NL_DATA_SENT))) {
    nl_hist_record_conn(conn, NL_HIST_RESPONSE, bpf_ktime_get_ns() - conn->phase_ns);
  }
}

/* The smoothed RTT, sampled on a connection's first receive and every 16th
 * after it (call after nl_count_data). */
static __always_inline void nl_sample_rtt(struct sock *sk, struct nl_conn *conn) {
  if (conn->direction == NL_DIR_UNKNOWN || (conn->traffic.receive_calls & 15) != 1) return;
  __u32 srtt_us = BPF_CORE_READ((struct tcp_sock *)sk, srtt_us) >> 3;
  if (srtt_us) nl_hist_record_conn(conn, NL_HIST_RTT, (__u64)srtt_us * 1000);
}

/* The connection entry a data event on sk counts into; NULL when the event was
 * ignored or went to totals (no room in conns, or after CLOSE). */
static __always_inline struct nl_conn *nl_data_conn(struct sock *sk, int bytes, bool is_send,
                                                    bool typed) {
  if (nl_socket_ignored(sk)) return NULL;
  struct nl_conn *conn = nl_conn_get(sk, true, typed);
  if (!conn) {
    struct nl_traffic delta = {};
    if (is_send) {
      delta.bytes_sent = bytes;
      delta.send_calls = 1;
    } else {
      delta.bytes_received = bytes;
      delta.receive_calls = 1;
    }
    nl_account_untracked(sk, &delta, true, typed);
    return NULL;
  }
  if (conn->owner != NL_OWNER_PROCESS) nl_take_owner(conn);
  return conn;
}

/* A send or receive call on a TCP socket that moved `bytes` (> 0), in the
 * caller's context. */
static __always_inline void nl_on_tcp_data(struct sock *sk, int bytes, bool is_send, bool typed) {
  struct nl_conn *conn = nl_data_conn(sk, bytes, is_send, typed);
  if (!conn) return;
  nl_count_data(conn, bytes, is_send);
  nl_track_response(conn, is_send);
  if (!is_send) nl_sample_rtt(sk, conn);
}

/* A send or receive call that moved `bytes` (> 0), in the caller's context. */
static __always_inline void nl_on_data(struct sock *sk, int bytes, bool is_send) {
  if (bytes > 0 && nl_is_tcp(sk)) nl_on_tcp_data(sk, bytes, is_send, false);
}

/* The same for BTF-typed socket pointers (the tp_btf programs). */
static __always_inline void nl_on_data_typed(struct sock *sk, int bytes, bool is_send) {
  if (bytes > 0 && nl_is_tcp_typed(sk)) nl_on_tcp_data(sk, bytes, is_send, true);
}

static __always_inline void nl_remember_listener(struct sock *sk, bool typed) {
  __u16 port = NL_SK_READ(typed, sk, __sk_common.skc_num);
  nl_target_listener(port);
  struct nl_listener listener = {.pid = bpf_get_current_pid_tgid() >> 32,
                                 .start_time = nl_process_start_time()};
  nl_process_comm(listener.comm);
  nl_note_cgroup(listener.pid, listener.start_time);
  if (bpf_map_update_elem(&tcp_listeners, &port, &listener, BPF_ANY) != 0)
    nl_stat_inc(NL_STAT_LISTENERS_FULL);
}

/* Whether conn was made for sk's ports (not left under its pointer by a freed socket). */
static __always_inline bool nl_same_ports(struct sock *sk, const struct nl_conn *conn, bool typed) {
  return conn->tuple.local_port == NL_SK_READ(typed, sk, __sk_common.skc_num) &&
         conn->tuple.remote_port == bpf_ntohs(NL_SK_READ(typed, sk, __sk_common.skc_dport));
}

/* An accepted connection at its SYN_RECV -> ESTABLISHED (the handshake's last ACK, in softirq,
 * right after the kernel made its socket at LISTEN -> SYN_RECV): its only run before accept()
 * that does more than count. `stale`: an entry under its pointer, left by a freed socket. */
static __always_inline void nl_start_passive(struct sock *sk, bool stale, bool typed) {
  __u64 sock = (__u64)sk;
  struct nl_tuple tuple;
  nl_read_tuple(sk, &tuple, typed);
  if (!nl_established_passes(&tuple)) {
    if (stale) {
      nl_stat_inc(NL_STAT_STALE_ENTRIES);
      nl_conn_close(sock, 0);
    }
    nl_ignore_socket(sock);
    return;
  }
  nl_conn_start(sk, NL_DIR_PASSIVE,
                NL_START_ESTABLISHED | NL_START_LISTENER | (stale ? NL_START_FIRST : 0), typed);
}

/* Kernel accounting, a closing connection with no entry and no room for one (tcp_conns full):
 * its counters since it began go into totals directly, as traffic of no entry. */
static __always_inline void nl_fold_counters_untracked(struct sock *sk, bool process_context,
                                                       bool typed) {
  struct nl_counter_base now = {};
  nl_socket_counters(sk, typed, &now);
  struct nl_traffic delta = {.bytes_sent = now.bytes_sent,
                             .bytes_received = now.bytes_received,
                             .retransmits = now.retransmits};
  nl_account_untracked(sk, &delta, process_context, typed);
}

/* Kernel accounting: CLOSE straight from ESTABLISHED or CLOSE_WAIT (an abortive close, a reset:
 * no close() run started an entry) of a connection without one; softirq or process context, so
 * no process is taken. One is started and folded now, with the final counters: else neither the
 * connection nor its bytes would count. A listener on its local port makes it accepted, and its
 * owner the listener's process (its SYN_RECV -> ESTABLISHED run was skipped). */
static __always_inline void nl_close_without_entry(struct sock *sk, bool typed) {
  __u16 port = NL_SK_READ(typed, sk, __sk_common.skc_num);
  bool accepted = bpf_map_lookup_elem(&tcp_listeners, &port) != NULL;
  if (accepted) {
    struct nl_tuple tuple;
    nl_read_tuple(sk, &tuple, typed);
    if (!nl_established_passes(&tuple)) return; /* filtered out, as at ESTABLISHED */
  }
  struct nl_conn *conn = nl_conn_start(
      sk, accepted ? NL_DIR_PASSIVE : NL_DIR_UNKNOWN,
      NL_START_ESTABLISHED | NL_START_ENTRY | (accepted ? NL_START_LISTENER : 0), typed);
  if (!conn) {
    nl_fold_counters_untracked(sk, false, typed);
    return;
  }
  nl_final_socket_counters(sk, conn, typed);
  nl_conn_close_entry((__u64)sk, conn, NL_SK_READ(typed, sk, sk_err));
}

static __always_inline void nl_count_transition(int old_state, int new_state) {
  __u32 slot = ((__u32)old_state & (NL_TCP_STATE_SLOTS - 1)) * NL_TCP_STATE_SLOTS +
               ((__u32)new_state & (NL_TCP_STATE_SLOTS - 1));
  __u64 *count = bpf_map_lookup_elem(&tcp_transitions, &slot);
  if (count) *count += 1;
}

/* inet_sock_set_state. Which transitions run in process context decides where
 * pid/comm may be taken: SYN_SENT (connect), LISTEN (listen), FIN_WAIT1 and
 * LAST_ACK (close/shutdown). The others run in softirq. Per connection, work beyond the
 * transition count is done at its start (SYN_SENT; SYN_RECV -> ESTABLISHED), at an active
 * one's ESTABLISHED (connect latency), at its close() and at CLOSE (the fold). */
static __always_inline void nl_on_tcp_state(struct sock *sk, int old_state, int new_state,
                                            bool typed) {
  nl_count_transition(old_state, new_state);
  __u64 sock = (__u64)sk;
  struct nl_conn *conn;
  switch (new_state) {
    /* SYN_SENT and LISTEN -> SYN_RECV begin a connection: whatever an ignored mark
     * says of this address is about an earlier socket (one freed without a CLOSE
     * event), and would hide this connection's data. */
    case TCP_SYN_SENT:
      nl_forget_socket(sock);
      nl_conn_start(sk, NL_DIR_ACTIVE, NL_START_FIRST | NL_START_PROCESS, typed);
      break;
    case TCP_SYN_RECV:
      if (old_state == TCP_LISTEN) nl_forget_socket(sock);
      break;
    case TCP_ESTABLISHED:
      conn = bpf_map_lookup_elem(&tcp_conns, &sock);
      /* From SYN_RECV: accepted, unless it is an active one's simultaneous open, or data events
       * made its entry before the handshake ended (per-event accounting, TCP Fast Open). */
      if (old_state == TCP_SYN_RECV && !(conn && nl_same_ports(sk, conn, typed))) {
        nl_start_passive(sk, conn != NULL, typed);
        break;
      }
      if (conn && conn->direction == NL_DIR_UNKNOWN && old_state == TCP_SYN_RECV)
        conn->direction = NL_DIR_PASSIVE;
      if (!conn && !nl_socket_ignored(sk))
        conn = nl_conn_start(sk, old_state == TCP_SYN_SENT ? NL_DIR_ACTIVE : NL_DIR_PASSIVE,
                             NL_START_ESTABLISHED | NL_START_ENTRY, typed);
      if (!conn) break;
      nl_read_tuple(sk, &conn->tuple, typed); /* ports and addresses are final only now */
      if (!nl_established_passes(&conn->tuple)) {
        bpf_map_delete_elem(&tcp_conns, &sock); /* no traffic before ESTABLISHED */
        nl_ignore_socket(sock);
        break;
      }
      conn->established_ns = bpf_ktime_get_ns();
      if (conn->direction == NL_DIR_ACTIVE && !conn->established)
        nl_hist_record_conn(conn, NL_HIST_CONNECT, conn->established_ns - conn->open_ns);
      conn->established = 1;
      break;
    case TCP_LISTEN:
      /* An entry here outlived the socket that had this address before (nl_socket_is_conn). */
      if (bpf_map_lookup_elem(&tcp_conns, &sock)) {
        nl_stat_inc(NL_STAT_STALE_ENTRIES);
        nl_conn_close(sock, 0);
      }
      nl_remember_listener(sk, typed);
      break;
    case TCP_CLOSE_WAIT:
      /* The peer's FIN (softirq): what this end received is final, and in the request/response
       * pattern of a server whose client closes first, what it sent too. Kernel accounting reads
       * the counters now as well as at close(): the soak found accepted connections whose
       * LAST_ACK, CLOSE and tcp_destroy_sock runs none of these programs saw, no missed run
       * counted (one in about 300,000 server ends, on 6.18; how the kernel skips them is not
       * known), and whose bytes were lost as unread folds. One read per passively closed
       * connection. */
      conn = bpf_map_lookup_elem(&tcp_conns, &sock);
      if (conn) nl_current_socket_counters(sk, conn, typed);
      break;
    case TCP_FIN_WAIT1:
    case TCP_LAST_ACK:
      conn = bpf_map_lookup_elem(&tcp_conns, &sock);
      /* Kernel accounting: a connection without an entry (its SYN_SENT run missed, then left
       * undecided in softirq) gets one at its close(), where per-event accounting would have at
       * its first call; found by the hour-long soak. */
      if (!conn && nl_kernel_accounting && !nl_socket_ignored(sk)) {
        conn = nl_conn_start(sk, NL_DIR_UNKNOWN,
                             NL_START_ESTABLISHED | NL_START_PROCESS | NL_START_ENTRY, typed);
        /* Not watched (nothing counted then), or no room: its counters now, into totals. */
        if (!conn) nl_fold_counters_untracked(sk, true, typed);
      }
      if (!conn) break;
      if (conn->owner != NL_OWNER_PROCESS) nl_take_owner(conn);
      /* close() or shutdown(): what was written is (nearly) all sent. Read now, an entry whose
       * CLOSE is never seen (found by the labels test: one socket in a few thousand under
       * heavy churn, no missed run counted) is folded later with its bytes. */
      nl_current_socket_counters(sk, conn, typed);
      break;
    case TCP_CLOSE:
      if (old_state == TCP_LISTEN) {
        /* Not skc_num: tcp_set_state() has already released the port of a listener bound to
         * port 0 (inet_put_port zeroes it) when this event fires, so its entry stayed forever
         * (found by test/soak). inet_sport keeps the port listen() set it to. Rare: a probe
         * read even in the typed programs. */
        __u16 port = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
        bpf_map_delete_elem(&tcp_listeners, &port);
        bpf_map_delete_elem(&tgt_listeners, &port);
      } else {
        conn = bpf_map_lookup_elem(&tcp_conns, &sock);
        /* Closing from a state past the handshake: established, even if the kernel
         * skipped our ESTABLISHED run (netlens_program_missed_runs_total). */
        if (conn && !conn->established && old_state != TCP_SYN_SENT && old_state != TCP_SYN_RECV) {
          nl_read_tuple(sk, &conn->tuple, typed);
          conn->established = 1;
        }
        if (conn) {
          nl_final_socket_counters(sk, conn, typed);
          nl_conn_close_entry(sock, conn, NL_SK_READ(typed, sk, sk_err));
        } else if (nl_kernel_accounting &&
                   (old_state == TCP_ESTABLISHED || old_state == TCP_CLOSE_WAIT) &&
                   !nl_socket_ignored(sk)) {
          nl_close_without_entry(sk, typed);
        }
        nl_forget_socket(sock);
      }
      break;
  }
}

/* tcp:tcp_destroy_sock: the socket is being freed, after its CLOSE transition. That
 * CLOSE run normally leaves nothing here; this catches what a CLOSE run the kernel
 * skipped (netlens_program_missed_runs_total) left behind: the connection is closed
 * and counted now, and an ignored mark cannot outlive its socket. */
static __always_inline void nl_on_tcp_destroy(struct sock *sk, bool typed) {
  __u64 sock = (__u64)sk;
  struct nl_conn *conn = bpf_map_lookup_elem(&tcp_conns, &sock);
  if (conn) {
    nl_final_socket_counters(sk, conn, typed);
    nl_conn_close_entry(sock, conn, NL_SK_READ(typed, sk, sk_err));
    nl_stat_inc(NL_STAT_LATE_CLOSES);
  }
  nl_forget_socket(sock);
}

static __always_inline void nl_on_state(struct sock *sk, int old_state, int new_state) {
  if (nl_is_tcp(sk)) nl_on_tcp_state(sk, old_state, new_state, false);
}

/* The same for BTF-typed socket pointers (the tp_btf programs). */
static __always_inline void nl_on_state_typed(struct sock *sk, int old_state, int new_state) {
  if (nl_is_tcp_typed(sk)) nl_on_tcp_state(sk, old_state, new_state, true);
}

/* A retransmitted skb, in softirq or timer context: no pid here. */
static __always_inline void nl_on_retransmit(struct sock *sk) {
  if (!nl_is_tcp(sk) || nl_socket_ignored(sk)) return;
  struct nl_conn *conn = nl_conn_get(sk, false, false);
  if (conn) {
    __sync_fetch_and_add(&conn->traffic.retransmits, 1);
    return;
  }
  struct nl_traffic delta = {.retransmits = 1};
  nl_account_untracked(sk, &delta, false, false);
}

#endif /* NETLENS_TCP_CONN_TRACK_BPF_H */
