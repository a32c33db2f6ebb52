// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* HTTP capture (issue 16): the first bytes of every send/receive call on the TCP connections of
 * watched processes, for the daemon's HTTP parser; an object of its own, loaded only when HTTP
 * capture is asked for (daemon/http/capture.cpp). The contract is ebpf/http/capture.h.
 *
 * Per call, on sock:sock_send_length / sock:sock_recv_length (tp_btf, Linux >= 6.3) or, where
 * the daemon chose them (older kernels), at the exit of the read/write/send/recv syscalls
 * (nl_http_sys_exit, below):
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
 * tracked one loses its entry.
 *
 * TLS through OpenSSL (nl_http_tls; the daemon attaches the uprobes per watched process):
 *   1. at SSL_read/SSL_write(_ex) entry the thread's call goes into ssl_calls (pid_tgid ->
 *      SSL*, buffer);
 *   2. the socket calls the library makes meanwhile (step 2 above) write the connection into
 *      that entry: the encrypted bytes themselves stay uncaptured (verdict tls);
 *   3. at return, the connection is the one seen in the call or, for a call served from the
 *      library's buffer without a socket call, the one remembered for the SSL* (ssl_conns);
 *      none known: counted (NL_HTTP_STAT_TLS_LOST_NO_CONN), never guessed. The plaintext is
 *      classified as above (plain_verdict) and, http, becomes a record flagged NL_HTTP_F_TLS.
 *   ssl_conns entries go at SSL_free and at the connection's TCP_CLOSE. */
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
#include "lib/task.bpf.h"

#define NL_MSG_PEEK 0x2
#define NL_MSG_ERRQUEUE 0x2000
#define NL_TCP_CLOSE 7

/* Bytes copied per call, at most NL_HTTP_CAPTURE_MAX: set by the daemon before load. */
const volatile __u32 nl_http_capture_bytes = 512;
/* MySQL too: connections that start with a server greeting or a client's COM_QUERY are
 * captured as NL_HTTP_MYSQL (records flagged NL_HTTP_F_MYSQL). */
const volatile bool nl_http_mysql = false;
/* HTTP/2 too: connections that start with the client preface, or (watched mid-stream) with a
 * frame header that only HTTP/2 would write, are captured as NL_HTTP_HTTP2 (NL_HTTP_F_HTTP2). */
const volatile bool nl_http_http2 = false;
/* TLS capture on: the socket calls look for an SSL call in flight (one more lookup). */
const volatile bool nl_http_tls = false;

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
/* The state of the iovec walk (nl_http_gather_one). It lives in the scratch map value, not on
 * the stack: the verifier tracks stack values across bpf_loop iterations precisely, so growing
 * counters there never converge (on 6.18.44 nl_http_send reached the 1M-instruction limit),
 * while map values are unknown scalars and the callback is verified in a few passes. */
struct nl_http_gather {
  __u64 iov, iovcnt, length, want;
  __u64 copied, start;
  __u64 failed;
};

struct nl_http_scratch {
  struct nl_http_record header;
  /* Twice the most copied: the verifier bounds a copy at an offset by offset + size. */
  __u8 data[2 * NL_HTTP_CAPTURE_MAX];
  struct nl_http_gather gather;
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct nl_http_scratch);
} http_scratch SEC(".maps");

/* A thread inside SSL_read/SSL_write(_ex): what its return needs. */
struct nl_ssl_call {
  __u64 ssl;
  __u64 buf;
  __u64 processed; /* _ex: where the library stores the byte count */
  __u64 sk;        /* the connection of a socket call made meanwhile (0: none yet) */
  __u64 cookie;
  __u32 function; /* enum nl_ssl_function */
  __u32 _pad;
};

/* pid_tgid -> the SSL call the thread is in. Bounded by the threads inside one at once. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, __u64);
  __type(value, struct nl_ssl_call);
} ssl_calls SEC(".maps");

/* (SSL*, tgid) -> its connection: for the calls served from OpenSSL's buffer. Not LRU: a full
 * map is counted (NL_HTTP_STAT_TLS_LOST_SSL_FULL). */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, struct nl_ssl_key);
  __type(value, struct nl_ssl_conn);
} ssl_conns SEC(".maps");

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
  __u64 addr; /* the (first) buffer; 0: none */
  __u64 len;
  __u64 iov; /* vector calls: the iovec array (addr, len: its first entry); 0: one buffer */
  __u64 iovcnt;
  __u32 syscall;
};

#if defined(__TARGET_ARCH_x86)
static __always_inline void nl_http_first_iovec(__u64 iov, __u64 count, struct nl_http_buffer *b) {
  struct nl_user_iovec first;
  if (count == 0 || bpf_probe_read_user(&first, sizeof(first), (const void *)iov) != 0) return;
  b->addr = first.base;
  b->len = first.len;
  b->iov = iov;
  b->iovcnt = count;
}
#endif

/* The user buffer of the syscall the current task is in. */
static __always_inline void nl_http_user_buffer(struct nl_http_buffer *b) {
  b->addr = 0;
  b->len = 0;
  b->iov = 0;
  b->iovcnt = 0;
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

/* A MySQL packet at the start of a call of `length` bytes: the server's greeting (protocol 10,
 * then a version string that starts with a digit) or a client's COM_QUERY that fills the call
 * and starts with a letter (a connection watched after its handshake). */
static __always_inline bool nl_http_is_mysql(const __u8 *h, __u32 n, __u64 length) {
  if (!nl_http_mysql || n < 6 || h[3] != 0) return false;
  const __u32 payload = h[0] | (h[1] << 8) | (h[2] << 16);
  if (h[4] == 0x0a) return h[5] >= '0' && h[5] <= '9' && payload >= 32 && payload <= 1024;
  const __u8 c = h[5] | 0x20; /* lower case */
  return h[4] == 0x03 && payload + 4 == length && c >= 'a' && c <= 'z';
}

/* HTTP/2 (RFC 9113): the client preface's first 16 bytes, or, for a connection watched
 * mid-stream, a frame header that fits the call with flags and stream id its type allows and
 * the fixed length of PING, WINDOW_UPDATE, RST_STREAM and SETTINGS frames. A text protocol's
 * first bytes read as a length of megabytes, beyond any call: rejected. */
static __always_inline bool nl_http_is_http2(const __u8 *h, __u32 n, __u64 length) {
  if (!nl_http_http2 || n < 9) return false;
  if (n >= 16 && h[0] == 'P' && h[1] == 'R' && h[2] == 'I' && h[3] == ' ' && h[4] == '*' &&
      h[5] == ' ' && h[6] == 'H' && h[7] == 'T' && h[8] == 'T' && h[9] == 'P' && h[10] == '/' &&
      h[11] == '2' && h[12] == '.' && h[13] == '0' && h[14] == '\r' && h[15] == '\n')
    return true;
  const __u32 frame = (h[0] << 16) | (h[1] << 8) | h[2];
  const __u8 type = h[3], flags = h[4];
  const __u32 stream = ((h[5] & 0x7f) << 24) | (h[6] << 16) | (h[7] << 8) | h[8];
  if ((h[5] & 0x80) || frame > 16384 || frame + 9 > length) return false;
  switch (type) {
    case 0: /* DATA: END_STREAM, PADDED */
      return stream != 0 && (flags & ~0x09) == 0 && frame > 0;
    case 1: /* HEADERS: END_STREAM, END_HEADERS, PADDED, PRIORITY */
      return stream != 0 && (flags & ~0x2d) == 0 && frame > 0;
    case 3: /* RST_STREAM */
      return stream != 0 && flags == 0 && frame == 4;
    case 4: /* SETTINGS: ACK (empty) or 6-byte settings */
      return stream == 0 && (flags == 1 ? frame == 0 : flags == 0 && frame % 6 == 0);
    case 6: /* PING */
      return stream == 0 && (flags & ~0x01) == 0 && frame == 8;
    case 8: /* WINDOW_UPDATE */
      return flags == 0 && frame == 4;
    default:
      return false;
  }
}

/* The verdict that the first n (<= NL_HTTP_SNIFF_BYTES) bytes of a call of `length` give. */
static __always_inline __u8 nl_http_classify(const __u8 *h, __u32 n, __u64 length) {
  if (n >= 3 && h[0] == 0x16 && h[1] == 0x03 && h[2] <= 0x04) return NL_HTTP_TLS;
  if (nl_http_is_mysql(h, n, length)) return NL_HTTP_MYSQL;
  if (nl_http_is_http2(h, n, length)) return NL_HTTP_HTTP2;
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
  nl_percpu_inc(&http_stats, verdict == NL_HTTP_MYSQL ? NL_HTTP_STAT_VERDICT_MYSQL
                             : verdict == NL_HTTP_HTTP2
                                 ? NL_HTTP_STAT_VERDICT_HTTP2
                                 : NL_HTTP_STAT_VERDICT_HTTP + verdict - NL_HTTP_HTTP);
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
  if (verdict < NL_HTTP_VERDICTS) __sync_fetch_and_add(&stats->connections[verdict], 1);
}

/* The verdict that the first bytes at `addr` (`available` there: the first iovec's) of a call
 * of `length` bytes give, or UNKNOWN; an unknown call is counted in *unknown, and after
 * NL_HTTP_UNKNOWN_LIMIT of them the verdict is other. */
static __always_inline __u8 nl_http_sniff(__u64 addr, __u64 available, __u64 length,
                                          __u8 *unknown) {
  __u8 head[NL_HTTP_SNIFF_BYTES] = {};
  const __u32 n = available < NL_HTTP_SNIFF_BYTES ? available : NL_HTTP_SNIFF_BYTES;
  __u8 verdict = NL_HTTP_UNKNOWN;
  /* A fixed-size read, and the exact size if that crossed into unmapped memory. */
  long err = bpf_probe_read_user(head, sizeof(head), (const void *)addr);
  if (err != 0 && n > 0 && n <= NL_HTTP_SNIFF_BYTES)
    err = bpf_probe_read_user(head, n, (const void *)addr);
  if (err == 0) verdict = nl_http_classify(head, n, length);
  if (verdict == NL_HTTP_UNKNOWN && ++*unknown >= NL_HTTP_UNKNOWN_LIMIT) verdict = NL_HTTP_OTHER;
  return verdict;
}

/* The tail of a call: its last bytes (at most NL_HTTP_TAIL_BYTES) ending at `end` in user
 * memory, when the copied prefix does not reach them. */
static __always_inline void nl_http_copy_tail(struct nl_http_record *header, __u64 end,
                                              __u64 size) {
  if (size > NL_HTTP_TAIL_BYTES) size = NL_HTTP_TAIL_BYTES;
  if (size == 0 || bpf_probe_read_user(header->tail, size, (const void *)(end - size)) != 0) return;
  header->tail_len = size;
}

/* One step of the iovec walk (bpf_loop: verified once, not once per iovec and path). */
static long nl_http_gather_one(__u64 index, void *ctx) {
  struct nl_http_scratch *record = *(struct nl_http_scratch **)ctx;
  struct nl_http_gather *g = &record->gather;
  if (index >= g->iovcnt || g->start >= g->length) return 1;
  struct nl_user_iovec v;
  if (bpf_probe_read_user(&v, sizeof(v), (const void *)(g->iov + index * sizeof(v))) != 0) return 1;
  const __u64 moved = v.len < g->length - g->start ? v.len : g->length - g->start;
  __u64 copied = g->copied;
  if (copied < g->want && copied < NL_HTTP_CAPTURE_MAX) {
    __u64 n = g->want - copied < moved ? g->want - copied : moved;
    if (n > NL_HTTP_CAPTURE_MAX) n = NL_HTTP_CAPTURE_MAX;
    if (n > 0 && bpf_probe_read_user(&record->data[copied & (NL_HTTP_CAPTURE_MAX - 1)], n,
                                     (const void *)v.base) != 0) {
      g->failed = 1;
      return 1;
    }
    g->copied = copied + n;
  }
  g->start += moved;
  if (g->start >= g->length && g->length > g->want)
    nl_http_copy_tail(&record->header, v.base + moved, moved);
  return 0;
}

/* Copies the first `want` of the `length` bytes the call moved, across its iovecs, and its
 * tail; returns the bytes copied, or -1 if reading the buffer failed. */
static __always_inline long nl_http_copy(struct nl_http_scratch *record,
                                         const struct nl_http_buffer *buffer, __u64 length,
                                         __u64 want) {
  record->header.tail_len = 0;
  if (!buffer->iov) {
    if (want > 0 && bpf_probe_read_user(record->data, want, (const void *)buffer->addr) != 0)
      return -1;
    if (length > want) nl_http_copy_tail(&record->header, buffer->addr + length, length - want);
    return want;
  }
  struct nl_http_gather *g = &record->gather;
  g->iov = buffer->iov;
  g->iovcnt = buffer->iovcnt;
  g->length = length;
  g->want = want;
  g->copied = 0;
  g->start = 0;
  g->failed = 0;
  /* bpf_loop's context must be on the stack: the pointer to the record is. */
  struct nl_http_scratch *context = record;
  bpf_loop(NL_HTTP_IOVECS, nl_http_gather_one, &context, 0);
  if (g->failed) return -1;
  return g->copied;
}

/* A segment record of `length` bytes moved, the first of them (at most the capture bytes, at
 * most `available` of the first buffer's, across the iovecs of a vector call) copied. */
static __always_inline void nl_http_emit(__u64 sk, __u64 cookie, const struct nl_http_conn *conn,
                                         const struct nl_http_buffer *buffer, __u64 available,
                                         __u64 length, __u16 flags, __u64 pid_tgid) {
  const __u32 zero = 0;
  struct nl_http_scratch *record = bpf_map_lookup_elem(&http_scratch, &zero);
  if (!record) return;
  if (!buffer->addr) {
    flags |= NL_HTTP_F_NO_BUFFER;
    available = 0;
  } else if (buffer->iov) {
    available = length; /* the iovecs hold every byte the call moved */
  }
  __u64 want = available < nl_http_capture_bytes ? available : nl_http_capture_bytes;
  if (want > NL_HTTP_CAPTURE_MAX) want = NL_HTTP_CAPTURE_MAX;
  long copied = 0;
  if (buffer->addr)
    copied = nl_http_copy(record, buffer, length, want);
  else
    record->header.tail_len = 0;
  if (copied < 0) {
    flags |= NL_HTTP_F_COPY_FAILED;
    copied = 0;
    record->header.tail_len = 0;
    nl_percpu_inc(&http_stats, NL_HTTP_STAT_LOST_COPY_FAILED);
  }
  if (copied > NL_HTTP_CAPTURE_MAX) copied = NL_HTTP_CAPTURE_MAX;
  record->header.sk = sk;
  record->header.cookie = cookie;
  record->header.ts_ns = bpf_ktime_get_ns();
  record->header.length = length;
  record->header.pid = pid_tgid >> 32;
  record->header.tid = (__u32)pid_tgid;
  record->header.kind = NL_HTTP_REC_SEGMENT;
  record->header.flags = flags;
  record->header.captured = copied;
  record->header.syscall = buffer->syscall;
  __builtin_memcpy(&record->header.tuple, &conn->tuple, sizeof(record->header.tuple));
  __builtin_memcpy(record->header.comm, conn->comm, sizeof(record->header.comm));
  if (bpf_ringbuf_output(&http_events, record, sizeof(record->header) + copied, BPF_RB_NO_WAKEUP) !=
      0) {
    nl_percpu_inc(&http_stats, NL_HTTP_STAT_LOST_RING_FULL);
    return;
  }
  nl_percpu_inc(&http_stats,
                buffer->addr ? NL_HTTP_STAT_SEGMENTS : NL_HTTP_STAT_SEGMENTS_NO_BUFFER);
  if (flags & NL_HTTP_F_TLS) nl_percpu_inc(&http_stats, NL_HTTP_STAT_TLS_SEGMENTS);
}

/* A call of `ret` bytes on socket sk of the watched process pid_tgid. `typed`: sk is BTF-typed
 * (the tp_btf programs: plain loads), else probe reads. `cookie` tells a reused sk pointer
 * apart: the socket cookie where the program may ask for it, the socket inode's number where
 * it may not (the syscall tracepoints); either way the same for the connection's lifetime. */
static __always_inline void nl_http_on_socket_call(struct sock *sk, __u64 cookie, long ret,
                                                   bool write, bool typed, __u64 pid_tgid) {
  const __u32 pid = pid_tgid >> 32;
  const __u64 key = (__u64)sk;
  struct nl_http_conn *conn = bpf_map_lookup_elem(&http_conns, &key);
  if (conn && conn->cookie != cookie) {
    /* The pointer of a connection whose close was not seen, now another socket's. */
    bpf_map_delete_elem(&http_conns, &key);
    conn = NULL;
  }
  if (!conn) {
    struct nl_http_conn fresh = {.cookie = cookie, .pid = pid};
    nl_read_tuple(sk, &fresh.tuple, typed);
    nl_process_comm(fresh.comm); /* the process's, not the thread's (grpc's "default-executo") */
    if (bpf_map_update_elem(&http_conns, &key, &fresh, BPF_NOEXIST) != 0 &&
        !bpf_map_lookup_elem(&http_conns, &key)) {
      nl_percpu_inc(&http_stats, NL_HTTP_STAT_LOST_CONNS_FULL);
      return;
    }
    conn = bpf_map_lookup_elem(&http_conns, &key);
    if (!conn) return;
  }
  if (nl_http_tls) {
    /* Inside SSL_read/SSL_write: this is the connection of the thread's SSL call. */
    struct nl_ssl_call *call = bpf_map_lookup_elem(&ssl_calls, &pid_tgid);
    if (call) {
      call->sk = key;
      call->cookie = cookie;
    }
  }
  if (conn->verdict == NL_HTTP_TLS || conn->verdict == NL_HTTP_OTHER) return;

  struct nl_http_buffer buffer;
  nl_http_user_buffer(&buffer);
  __u64 available = buffer.len < (__u64)ret ? buffer.len : (__u64)ret;
  if (!buffer.addr) available = 0;

  if (conn->verdict == NL_HTTP_UNKNOWN) {
    /* A call without a buffer cannot be classified: it neither counts nor is captured. */
    if (available == 0) return;
    const __u8 verdict = nl_http_sniff(buffer.addr, available, (__u64)ret, &conn->unknown_segments);
    if (verdict == NL_HTTP_UNKNOWN) return;
    conn->verdict = verdict;
    nl_http_count_verdict(conn->pid, verdict);
    if (verdict != NL_HTTP_HTTP && verdict != NL_HTTP_MYSQL && verdict != NL_HTTP_HTTP2) return;
  }
  const __u16 flags =
      (write ? NL_HTTP_F_WRITE : 0) | (conn->verdict == NL_HTTP_MYSQL   ? NL_HTTP_F_MYSQL
                                       : conn->verdict == NL_HTTP_HTTP2 ? NL_HTTP_F_HTTP2
                                                                        : 0);
  nl_http_emit(key, cookie, conn, &buffer, available, ret, flags, pid_tgid);
}

/* sock:sock_send_length / sock_recv_length (Linux >= 6.3): the socket is the tracepoint's. */
static __always_inline void nl_http_on_call(struct sock *sk, int ret, bool write) {
  if (ret <= 0) return;
  const __u64 pid_tgid = bpf_get_current_pid_tgid();
  const __u32 pid = pid_tgid >> 32;
  if (!bpf_map_lookup_elem(&http_pids, &pid)) return;
  if (!nl_is_tcp_typed(sk)) return;
  nl_http_on_socket_call(sk, bpf_get_socket_cookie(sk), ret, write, true, pid_tgid);
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

/* ---- Kernels before 6.3: the same calls at their syscalls' exit ----------------------------
 * syscalls:sys_exit_{read,write,readv,writev,recvfrom,sendto,recvmsg,sendmsg,sendfile64}.
 * The tracepoint gives the return value only: the file descriptor, buffer and flags are the
 * syscall's registers (bpf_task_pt_regs), the socket the descriptor's file (probe reads: a
 * classic tracepoint has no BTF-typed socket, and no socket cookie, so the socket inode's
 * number is the generation). What this misses, that the sock tracepoints see: io_uring,
 * sendmmsg/recvmmsg and splice (no syscall among these), 32-bit callers. Every read and write
 * of every process runs it: one http_pids lookup for a process not watched. */
static __always_inline void nl_http_on_syscall(long ret, bool write) {
  if (ret <= 0) return;
  const __u64 pid_tgid = bpf_get_current_pid_tgid();
  const __u32 pid = pid_tgid >> 32;
  if (!bpf_map_lookup_elem(&http_pids, &pid)) return;
#if defined(__TARGET_ARCH_x86)
  struct task_struct *task = bpf_get_current_task_btf();
  struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
  if (!regs) return;
  const long nr = regs->orig_ax;
  /* recvfrom's flags are its 4th argument (r10 in the syscall ABI), recvmsg's its 3rd. */
  const __u64 flags = nr == 45 ? regs->r10 : nr == 47 ? regs->dx : 0;
  if (flags & (NL_MSG_PEEK | NL_MSG_ERRQUEUE)) return;
  __u64 ino = 0;
  struct sock *sk = nl_sock_of_fd((int)regs->di, &ino);
  if (!sk || !nl_is_tcp(sk)) return;
  nl_http_on_socket_call(sk, ino, ret, write, false, pid_tgid);
#endif
}

/* One program for all nine syscall exits (attached to each by the daemon, Capture::Load): the
 * syscall's number says the direction; x86-64 numbers. */
SEC("tracepoint")
int nl_http_sys_exit(struct nl_sys_exit_args *ctx) {
  const int nr = ctx->syscall_nr;
  /* read, readv, recvfrom, recvmsg; write, writev, sendfile, sendto, sendmsg */
  const bool read = nr == 0 || nr == 19 || nr == 45 || nr == 47;
  const bool write = nr == 1 || nr == 20 || nr == 40 || nr == 44 || nr == 46;
  /* One inlined copy of the path for both directions: the verifier's budget. */
  if (read || write) nl_http_on_syscall(ctx->ret, write);
  return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(nl_http_state, struct sock *sk, int old_state, int new_state) {
  if (new_state != NL_TCP_CLOSE) return 0;
  const __u64 key = (__u64)sk;
  struct nl_http_conn *conn = bpf_map_lookup_elem(&http_conns, &key);
  if (!conn) return 0;
  const bool plain = conn->plain_verdict == NL_HTTP_HTTP || conn->plain_verdict == NL_HTTP_HTTP2;
  const bool mysql = conn->verdict == NL_HTTP_MYSQL;
  const bool http2 = conn->verdict == NL_HTTP_HTTP2 || conn->plain_verdict == NL_HTTP_HTTP2;
  if (conn->verdict == NL_HTTP_HTTP || plain || mysql || http2) {
    struct nl_http_record *record = bpf_ringbuf_reserve(&http_events, sizeof(*record), 0);
    if (record) {
      __builtin_memset(record, 0, sizeof(*record));
      record->sk = key;
      record->cookie = conn->cookie;
      record->ts_ns = bpf_ktime_get_ns();
      /* TLS: the process whose SSL calls gave the segments. */
      record->pid = plain && conn->ssl_tgid ? conn->ssl_tgid : conn->pid;
      record->kind = NL_HTTP_REC_CLOSE;
      record->flags = (plain ? NL_HTTP_F_TLS : 0) | (mysql ? NL_HTTP_F_MYSQL : 0) |
                      (http2 ? NL_HTTP_F_HTTP2 : 0);
      __builtin_memcpy(&record->tuple, &conn->tuple, sizeof(record->tuple));
      __builtin_memcpy(record->comm, conn->comm, sizeof(record->comm));
      bpf_ringbuf_submit(record, BPF_RB_NO_WAKEUP);
      nl_percpu_inc(&http_stats, NL_HTTP_STAT_CLOSES);
    } else {
      nl_percpu_inc(&http_stats, NL_HTTP_STAT_LOST_RING_FULL);
    }
  }
  if (conn->ssl) {
    /* Unless the SSL* already names a later connection. */
    struct nl_ssl_key ssl = {.ssl = conn->ssl, .tgid = conn->ssl_tgid};
    struct nl_ssl_conn *known = bpf_map_lookup_elem(&ssl_conns, &ssl);
    if (known && known->sk == key && known->cookie == conn->cookie)
      bpf_map_delete_elem(&ssl_conns, &ssl);
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

/* SSL_read, SSL_write, SSL_read_ex, SSL_write_ex (the attach cookie says which). */
SEC("uprobe")
int BPF_KPROBE(nl_tls_enter, void *ssl, void *buf, __u64 num, void *processed) {
  const __u64 pid_tgid = bpf_get_current_pid_tgid();
  const __u32 pid = pid_tgid >> 32;
  if (!bpf_map_lookup_elem(&http_pids, &pid)) return 0;
  const __u32 function = bpf_get_attach_cookie(ctx);
  struct nl_ssl_call call = {.ssl = (__u64)ssl, .buf = (__u64)buf, .function = function};
  if (function == NL_SSL_READ_EX || function == NL_SSL_WRITE_EX) call.processed = (__u64)processed;
  if (bpf_map_update_elem(&ssl_calls, &pid_tgid, &call, BPF_ANY) != 0)
    nl_percpu_inc(&http_stats, NL_HTTP_STAT_TLS_LOST_CALLS_FULL);
  return 0;
}

SEC("uprobe")
int BPF_KRETPROBE(nl_tls_return, long ret) {
  const __u64 pid_tgid = bpf_get_current_pid_tgid();
  struct nl_ssl_call *inflight = bpf_map_lookup_elem(&ssl_calls, &pid_tgid);
  if (!inflight) return 0;
  const struct nl_ssl_call call = *inflight;
  bpf_map_delete_elem(&ssl_calls, &pid_tgid);
  const __u32 tgid = pid_tgid >> 32;

  __u64 length = 0;
  if (call.function == NL_SSL_READ_EX || call.function == NL_SSL_WRITE_EX) {
    /* 1 on success, the count in *processed. */
    if ((int)ret == 1 && bpf_probe_read_user(&length, sizeof(length), (void *)call.processed) != 0)
      length = 0;
  } else if ((int)ret > 0) {
    length = (int)ret;
  }

  struct nl_ssl_key ssl = {.ssl = call.ssl, .tgid = tgid};
  __u64 key = call.sk, cookie = call.cookie;
  if (!key) {
    /* Served from the library's buffer: the connection of the SSL*'s earlier socket calls. */
    struct nl_ssl_conn *known = bpf_map_lookup_elem(&ssl_conns, &ssl);
    if (!known) {
      if (length) nl_percpu_inc(&http_stats, NL_HTTP_STAT_TLS_LOST_NO_CONN);
      return 0;
    }
    key = known->sk;
    cookie = known->cookie;
  }
  struct nl_http_conn *conn = bpf_map_lookup_elem(&http_conns, &key);
  if (!conn || conn->cookie != cookie) {
    /* Closed, or not tracked (http_conns full: counted there). */
    if (length) nl_percpu_inc(&http_stats, NL_HTTP_STAT_TLS_LOST_NO_CONN);
    return 0;
  }
  if (call.sk && (conn->ssl != call.ssl || conn->ssl_tgid != tgid)) {
    /* The first call of this SSL* seen on the connection: remember it. */
    struct nl_ssl_conn where = {.sk = key, .cookie = cookie};
    if (bpf_map_update_elem(&ssl_conns, &ssl, &where, BPF_ANY) == 0) {
      conn->ssl = call.ssl;
      conn->ssl_tgid = tgid;
    } else {
      nl_percpu_inc(&http_stats, NL_HTTP_STAT_TLS_LOST_SSL_FULL);
    }
  }
  if (length == 0) return 0;

  if (conn->plain_verdict == NL_HTTP_UNKNOWN) {
    __u8 verdict = nl_http_sniff(call.buf, length, length, &conn->plain_unknown_segments);
    if (verdict == NL_HTTP_UNKNOWN) return 0;
    /* TLS inside TLS, MySQL: other */
    if (verdict != NL_HTTP_HTTP && verdict != NL_HTTP_HTTP2) verdict = NL_HTTP_OTHER;
    conn->plain_verdict = verdict;
    nl_percpu_inc(&http_stats, verdict == NL_HTTP_HTTP    ? NL_HTTP_STAT_TLS_VERDICT_HTTP
                               : verdict == NL_HTTP_HTTP2 ? NL_HTTP_STAT_VERDICT_HTTP2
                                                          : NL_HTTP_STAT_TLS_VERDICT_OTHER);
  }
  if (conn->plain_verdict != NL_HTTP_HTTP && conn->plain_verdict != NL_HTTP_HTTP2) return 0;
  const bool write = call.function == NL_SSL_WRITE || call.function == NL_SSL_WRITE_EX;
  const struct nl_http_buffer plain = {.addr = call.buf, .len = length, .syscall = call.function};
  nl_http_emit(key, cookie, conn, &plain, length, length,
               NL_HTTP_F_TLS | (write ? NL_HTTP_F_WRITE : 0) |
                   (conn->plain_verdict == NL_HTTP_HTTP2 ? NL_HTTP_F_HTTP2 : 0),
               pid_tgid);
  return 0;
}

/* SSL_free: its SSL* may be reused for another connection. */
SEC("uprobe")
int BPF_KPROBE(nl_tls_free, void *ssl) {
  struct nl_ssl_key key = {.ssl = (__u64)ssl, .tgid = bpf_get_current_pid_tgid() >> 32};
  bpf_map_delete_elem(&ssl_conns, &key);
  return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
