// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* HTTP capture (issue 16): the first bytes of every send/receive call on the TCP connections of
 * watched processes, for the daemon's HTTP parser; an object of its own, loaded only when HTTP
 * capture is asked for (daemon/http/capture.cpp). The contract is ebpf/http/capture.h.
 *
 * Per call, on sock:sock_send_length / sock:sock_recv_length (tp_btf, Linux >= 6.3):
 *   1. the process is looked up in http_pids: not watched, return (one lookup);
 *   2. the socket must be TCP; its entry in http_conns says what the connection is: tls or
 *      other, return (one more lookup); new, an entry is made;
 *   3. unknown: the first bytes of the call's user buffer are looked at (a request line, a
 *      status line, a TLS record header); after NL_HTTP_UNKNOWN_LIMIT segments that are
 *      neither, the connection is other for good;
 *   4. http: a record with up to nl_http_capture_bytes of the buffer goes to the ring buffer,
 *      without a wakeup (the daemon drains it on a timer).
 * The user buffer is found from the caller's syscall registers (bpf_task_pt_regs): the
 * tracepoints give the socket but not the buffer. Calls without one (sendfile, splice,
 * io_uring, sendmmsg/recvmmsg, 32-bit callers) give a length-only record.
 * On sock:inet_sock_set_state to TCP_CLOSE, an http connection gets a close record and every
 * tracked one loses its entry. */
/* vmlinux.h must come before the libbpf headers. */
// clang-format off
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
// clang-format on

#include "http/capture.h"

#include "lib/percpu_stats.bpf.h"
#include "lib/sock.bpf.h"

#define NL_MSG_PEEK 0x2
#define NL_MSG_ERRQUEUE 0x2000
#define NL_TCP_CLOSE 7

/* Bytes copied per call, at most NL_HTTP_CAPTURE_MAX: set by the daemon before load. */
const volatile __u32 nl_http_capture_bytes = 512;

/* tgid -> when the kernel added it (0: the daemon did): the processes watched. The daemon
 * writes what its selectors judge; the kernel adds children of watched processes at fork and
 * processes whose new comm is in http_comms at exec, and marks watched processes that exec
 * (since = now), so that the daemon judges them again (daemon/http/process_watch.h). */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u32);
  __type(value, __u64);
} http_pids SEC(".maps");

/* comm -> 1: the `comm` include selectors, judged by the kernel at exec so that a short-lived
 * client is watched from its first call, not from the daemon's next scan. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, NL_HTTP_COMMS);
  __type(key, char[NL_COMM_LEN]);
  __type(value, __u8);
} http_comms SEC(".maps");

/* struct sock pointer -> the connection. A plain hash, not an LRU one: a full map refuses the
 * insert, which is counted (NL_HTTP_STAT_LOST_CONNS_FULL), where an LRU map would evict a
 * tracked connection unseen. Entries go at TCP_CLOSE. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, __u64);
  __type(value, struct nl_http_conn);
} http_conns SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4 << 20);
} http_events SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, NL_HTTP_STATS);
  __type(key, __u32);
  __type(value, __u64);
} http_stats SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u32);
  __type(value, struct nl_http_proc_stats);
} http_proc_stats SEC(".maps");

/* A record is built here (too big for the stack), then copied into the ring buffer with its
 * real size. */
struct nl_http_scratch {
  struct nl_http_record header;
  __u8 data[NL_HTTP_CAPTURE_MAX];
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct nl_http_scratch);
} http_scratch SEC(".maps");

/* The user-space ABI (fixed, so not relocated). */
struct nl_user_iovec {
  __u64 base;
  __u64 len;
};

struct nl_user_msghdr {
  __u64 name;
  __u32 namelen;
  __u32 _pad;
  __u64 iov;
  __u64 iovlen;
};

struct nl_http_buffer {
  __u64 addr; /* 0: none */
  __u64 len;
  __u32 syscall;
};

#if defined(__TARGET_ARCH_x86)
static __always_inline void nl_http_first_iovec(__u64 iov, __u64 count, struct nl_http_buffer *b) {
  struct nl_user_iovec first;
  if (count == 0 || bpf_probe_read_user(&first, sizeof(first), (const void *)iov) != 0) return;
  b->addr = first.base;
  b->len = first.len;
}
#endif

/* The user buffer of the syscall the current task is in. */
static __always_inline void nl_http_user_buffer(struct nl_http_buffer *b) {
  b->addr = 0;
  b->len = 0;
  b->syscall = ~0u;
#if defined(__TARGET_ARCH_x86)
  struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
  if (!regs) return;
  const long nr = regs->orig_ax;
  b->syscall = nr;
  switch (nr) {
    case 0:  /* read */
    case 1:  /* write */
    case 44: /* sendto */
    case 45: /* recvfrom */
      b->addr = regs->si;
      b->len = regs->dx;
      break;
    case 19: /* readv */
    case 20: /* writev */
      nl_http_first_iovec(regs->si, regs->dx, b);
      break;
    case 46: /* sendmsg */
    case 47: /* recvmsg */ {
      struct nl_user_msghdr msg;
      if (bpf_probe_read_user(&msg, sizeof(msg), (const void *)regs->si) == 0)
        nl_http_first_iovec(msg.iov, msg.iovlen, b);
      break;
    }
    default: /* sendfile (40), splice (275), io_uring, sendmmsg, ...: no buffer */
      break;
  }
#else
  /* Other architectures: no buffer, every segment length only. The daemon refuses to load
   * there (daemon/http/capture.cpp), so that this is never taken for capture. */
#endif
}

static __always_inline bool nl_http_token_is(const __u8 *h, int n, const char *s, int len) {
  if (n != len) return false;
#pragma unroll
  for (int i = 0; i < 7; i++) {
    if (i < len && h[i] != (__u8)s[i]) return false;
  }
  return true;
}

#define NL_IS(h, n, s) nl_http_token_is(h, n, s, sizeof(s) - 1)

/* The verdict that the first n (<= NL_HTTP_SNIFF_BYTES) bytes of a segment give. */
static __always_inline __u8 nl_http_classify(const __u8 *h, __u32 n) {
  if (n >= 3 && h[0] == 0x16 && h[1] == 0x03 && h[2] <= 0x04) return NL_HTTP_TLS;
  if (n >= 7 && h[0] == 'H' && h[1] == 'T' && h[2] == 'T' && h[3] == 'P' && h[4] == '/' &&
      h[5] == '1' && h[6] == '.')
    return NL_HTTP_HTTP;
  /* A request line: an upper-case token, a space, then '/' (origin form), or one of the
   * methods whose target may be otherwise (CONNECT host:port, OPTIONS *, absolute form). */
  for (int i = 0; i < 12; i++) { /* a bounded loop */
    if (i >= n) return NL_HTTP_UNKNOWN;
    const __u8 c = h[i];
    if (c >= 'A' && c <= 'Z') continue;
    if (c != ' ' || i == 0) return NL_HTTP_UNKNOWN;
    if (i + 1 < n && h[i + 1] == '/') return NL_HTTP_HTTP;
    if (NL_IS(h, i, "GET") || NL_IS(h, i, "HEAD") || NL_IS(h, i, "POST") || NL_IS(h, i, "PUT") ||
        NL_IS(h, i, "DELETE") || NL_IS(h, i, "OPTIONS") || NL_IS(h, i, "PATCH") ||
        NL_IS(h, i, "CONNECT") || NL_IS(h, i, "TRACE"))
      return NL_HTTP_HTTP;
    return NL_HTTP_UNKNOWN;
  }
  return NL_HTTP_UNKNOWN;
}

static __always_inline void nl_http_count_verdict(__u32 pid, __u8 verdict) {
  nl_percpu_inc(&http_stats, NL_HTTP_STAT_VERDICT_HTTP + verdict - NL_HTTP_HTTP);
  struct nl_http_proc_stats *stats = bpf_map_lookup_elem(&http_proc_stats, &pid);
  if (!stats) {
    struct nl_http_proc_stats zero = {};
    bpf_map_update_elem(&http_proc_stats, &pid, &zero, BPF_NOEXIST);
    stats = bpf_map_lookup_elem(&http_proc_stats, &pid);
    if (!stats) {
      nl_percpu_inc(&http_stats, NL_HTTP_STAT_LOST_PROC_STATS_FULL);
      return;
    }
  }
  __sync_fetch_and_add(&stats->connections[verdict & 3], 1);
}

static __always_inline void nl_http_on_call(struct sock *sk, int ret, bool write) {
  if (ret <= 0) return;
  const __u64 pid_tgid = bpf_get_current_pid_tgid();
  const __u32 pid = pid_tgid >> 32;
  if (!bpf_map_lookup_elem(&http_pids, &pid)) return;
  if (!nl_is_tcp_typed(sk)) return;

  const __u64 key = (__u64)sk;
  const __u64 cookie = bpf_get_socket_cookie(sk);
  struct nl_http_conn *conn = bpf_map_lookup_elem(&http_conns, &key);
  if (conn && conn->cookie != cookie) {
    /* The pointer of a connection whose close was not seen, now another socket's. */
    bpf_map_delete_elem(&http_conns, &key);
    conn = NULL;
  }
  if (conn && conn->verdict >= NL_HTTP_TLS) return;
  if (!conn) {
    struct nl_http_conn fresh = {.cookie = cookie, .pid = pid};
    nl_read_tuple(sk, &fresh.tuple, true);
    bpf_get_current_comm(fresh.comm, sizeof(fresh.comm));
    if (bpf_map_update_elem(&http_conns, &key, &fresh, BPF_NOEXIST) != 0 &&
        !bpf_map_lookup_elem(&http_conns, &key)) {
      nl_percpu_inc(&http_stats, NL_HTTP_STAT_LOST_CONNS_FULL);
      return;
    }
    conn = bpf_map_lookup_elem(&http_conns, &key);
    if (!conn) return;
  }

  struct nl_http_buffer buffer;
  nl_http_user_buffer(&buffer);
  __u64 available = buffer.len < (__u64)ret ? buffer.len : (__u64)ret;
  if (!buffer.addr) available = 0;

  if (conn->verdict == NL_HTTP_UNKNOWN) {
    /* A call without a buffer cannot be classified: it neither counts nor is captured. */
    if (available == 0) return;
    __u8 head[NL_HTTP_SNIFF_BYTES] = {};
    const __u32 n = available < NL_HTTP_SNIFF_BYTES ? available : NL_HTTP_SNIFF_BYTES;
    __u8 verdict = NL_HTTP_UNKNOWN;
    /* A fixed-size read, and the exact size if that crossed into unmapped memory. */
    long err = bpf_probe_read_user(head, sizeof(head), (const void *)buffer.addr);
    if (err != 0 && n > 0 && n <= NL_HTTP_SNIFF_BYTES)
      err = bpf_probe_read_user(head, n, (const void *)buffer.addr);
    if (err == 0) verdict = nl_http_classify(head, n);
    if (verdict == NL_HTTP_UNKNOWN) {
      if (++conn->unknown_segments >= NL_HTTP_UNKNOWN_LIMIT)
        verdict = NL_HTTP_OTHER;
      else
        return;
    }
    conn->verdict = verdict;
    nl_http_count_verdict(conn->pid, verdict);
    if (verdict != NL_HTTP_HTTP) return;
  }

  const __u32 zero = 0;
  struct nl_http_scratch *record = bpf_map_lookup_elem(&http_scratch, &zero);
  if (!record) return;
  __u16 flags = write ? NL_HTTP_F_WRITE : 0;
  if (!buffer.addr) flags |= NL_HTTP_F_NO_BUFFER;
  __u64 want = available < nl_http_capture_bytes ? available : nl_http_capture_bytes;
  if (want > NL_HTTP_CAPTURE_MAX) want = NL_HTTP_CAPTURE_MAX;
  if (want > 0 && bpf_probe_read_user(record->data, want, (const void *)buffer.addr) != 0) {
    flags |= NL_HTTP_F_COPY_FAILED;
    want = 0;
    nl_percpu_inc(&http_stats, NL_HTTP_STAT_LOST_COPY_FAILED);
  }
  record->header.sk = key;
  record->header.cookie = cookie;
  record->header.ts_ns = bpf_ktime_get_ns();
  record->header.length = ret;
  record->header.pid = pid;
  record->header.tid = (__u32)pid_tgid;
  record->header.kind = NL_HTTP_REC_SEGMENT;
  record->header.flags = flags;
  record->header.captured = want;
  record->header.syscall = buffer.syscall;
  __builtin_memcpy(&record->header.tuple, &conn->tuple, sizeof(record->header.tuple));
  __builtin_memcpy(record->header.comm, conn->comm, sizeof(record->header.comm));
  if (bpf_ringbuf_output(&http_events, record, sizeof(record->header) + want, BPF_RB_NO_WAKEUP) !=
      0) {
    nl_percpu_inc(&http_stats, NL_HTTP_STAT_LOST_RING_FULL);
    return;
  }
  nl_percpu_inc(&http_stats, buffer.addr ? NL_HTTP_STAT_SEGMENTS : NL_HTTP_STAT_SEGMENTS_NO_BUFFER);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(nl_http_send, struct sock *sk, int ret, int flags) {
  nl_http_on_call(sk, ret, true);
  return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(nl_http_recv, struct sock *sk, int ret, int flags) {
  if (flags & (NL_MSG_PEEK | NL_MSG_ERRQUEUE)) return 0;
  nl_http_on_call(sk, ret, false);
  return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(nl_http_state, struct sock *sk, int old_state, int new_state) {
  if (new_state != NL_TCP_CLOSE) return 0;
  const __u64 key = (__u64)sk;
  struct nl_http_conn *conn = bpf_map_lookup_elem(&http_conns, &key);
  if (!conn) return 0;
  if (conn->verdict == NL_HTTP_HTTP) {
    struct nl_http_record *record = bpf_ringbuf_reserve(&http_events, sizeof(*record), 0);
    if (record) {
      __builtin_memset(record, 0, sizeof(*record));
      record->sk = key;
      record->cookie = conn->cookie;
      record->ts_ns = bpf_ktime_get_ns();
      record->pid = conn->pid;
      record->kind = NL_HTTP_REC_CLOSE;
      __builtin_memcpy(&record->tuple, &conn->tuple, sizeof(record->tuple));
      __builtin_memcpy(record->comm, conn->comm, sizeof(record->comm));
      bpf_ringbuf_submit(record, BPF_RB_NO_WAKEUP);
      nl_percpu_inc(&http_stats, NL_HTTP_STAT_CLOSES);
    } else {
      nl_percpu_inc(&http_stats, NL_HTTP_STAT_LOST_RING_FULL);
    }
  }
  bpf_map_delete_elem(&http_conns, &key);
  return 0;
}

/* A new process (not a thread) of a watched one is watched too: nginx's workers, a client's
 * children. The daemon judges it by its own selectors at its next scan. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(nl_http_fork, struct task_struct *parent, struct task_struct *child) {
  if (child->pid != child->tgid) return 0;
  const __u32 parent_tgid = parent->tgid;
  if (!bpf_map_lookup_elem(&http_pids, &parent_tgid)) return 0;
  const __u32 tgid = child->tgid;
  const __u64 since = bpf_ktime_get_ns();
  if (bpf_map_update_elem(&http_pids, &tgid, &since, BPF_ANY) != 0)
    nl_percpu_inc(&http_stats, NL_HTTP_STAT_LOST_PIDS_FULL);
  return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(nl_http_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm) {
  const __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  char comm[NL_COMM_LEN];
  bpf_get_current_comm(comm, sizeof(comm));
  const __u64 since = bpf_ktime_get_ns();
  if (bpf_map_lookup_elem(&http_comms, comm) || bpf_map_lookup_elem(&http_pids, &tgid)) {
    if (bpf_map_update_elem(&http_pids, &tgid, &since, BPF_ANY) != 0)
      nl_percpu_inc(&http_stats, NL_HTTP_STAT_LOST_PIDS_FULL);
  }
  return 0;
}

/* The pid may be reused: a process that exits is no longer watched. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(nl_http_exit, struct task_struct *task) {
  if (task->pid != task->tgid) return 0;
  const __u32 tgid = task->tgid;
  bpf_map_delete_elem(&http_pids, &tgid);
  return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
