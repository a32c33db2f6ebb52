/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * HTTP capture (issue 16): the contract between ebpf/http/capture.bpf.c and
 * daemon/http/capture.cpp. Plain C: included by the programs (with vmlinux.h) and by the daemon.
 *
 * Per TCP connection of a watched process (http_pids), the kernel classifies the connection
 * once (http_conns) and, for an http one (or a mysql or http2 one, when the daemon asks for
 * MySQL or HTTP/2), writes one record per send/receive call into the ring buffer http_events
 * (no wakeup: the daemon drains it on its own timer), and one close record when the connection
 * reaches TCP_CLOSE.
 *
 * TLS (OpenSSL's libssl, attached per watched process by the daemon): the plaintext of
 * SSL_read/SSL_write(_ex) becomes the same records, flagged NL_HTTP_F_TLS and keyed by the
 * connection the library's socket calls were seen on (ssl_conns: SSL* -> that connection); the
 * encrypted records of the connection stay uncaptured (verdict tls).
 */
#ifndef NETLENS_HTTP_CAPTURE_H
#define NETLENS_HTTP_CAPTURE_H

#include "lib/common.h"

/* At most this many bytes of a call are copied (the daemon may set fewer, a power of two is
 * not needed); the rest is counted in `length` only. */
#define NL_HTTP_CAPTURE_MAX 1024
/* The last bytes of a call beyond the copied ones, so that the end of a chunked body shows. */
#define NL_HTTP_TAIL_BYTES 16
/* iovecs of a readv/writev/sendmsg/recvmsg call looked at (copied from, the tail found in). */
#define NL_HTTP_IOVECS 128
/* Bytes looked at to classify a connection of unknown verdict. */
#define NL_HTTP_SNIFF_BYTES 16
/* `comm` selectors the kernel judges at exec (more are judged by the daemon's scan only). */
#define NL_HTTP_COMMS 256
/* Segments of unknown verdict after which a connection is `other` for good. */
#define NL_HTTP_UNKNOWN_LIMIT 8

enum nl_http_verdict {
  NL_HTTP_UNKNOWN = 0,
  NL_HTTP_HTTP = 1,
  NL_HTTP_TLS = 2,
  NL_HTTP_OTHER = 3,
  NL_HTTP_MYSQL = 4, /* MySQL classic protocol (nl_http_mysql): captured like http */
  NL_HTTP_HTTP2 = 5, /* HTTP/2 (nl_http_http2): the client preface, or a frame mid-stream */
  NL_HTTP_VERDICTS,
};

/* One connection in http_conns, keyed by its struct sock pointer. */
struct nl_http_conn {
  __u64 cookie; /* the socket's cookie: tells a reused sk pointer apart (the generation) */
  __u32 pid;    /* the process that was first seen on it */
  __u8 verdict; /* enum nl_http_verdict */
  __u8 unknown_segments;
  __u8 plain_verdict; /* TLS: the verdict of the plaintext (enum nl_http_verdict) */
  __u8 plain_unknown_segments;
  struct nl_tuple tuple; /* addresses when first seen */
  __u64 ssl;             /* TLS: the SSL* whose calls were seen on it (0: none) */
  __u32 ssl_tgid;        /* ... in this process (ssl_conns is keyed by both) */
  __u32 _pad;
  char comm[NL_COMM_LEN]; /* the process's comm when first seen: it may be gone before a
                             record is read (short-lived clients) */
};

/* ssl_conns: an SSL object of a process -> the connection its socket calls were seen on. */
struct nl_ssl_key {
  __u64 ssl;
  __u32 tgid;
  __u32 _pad;
};

struct nl_ssl_conn {
  __u64 sk;
  __u64 cookie;
};

/* The attach cookie of each OpenSSL function (the daemon sets it per probed offset). */
enum nl_ssl_function {
  NL_SSL_READ = 0,
  NL_SSL_WRITE = 1,
  NL_SSL_READ_EX = 2,
  NL_SSL_WRITE_EX = 3,
};

enum nl_http_record_kind {
  NL_HTTP_REC_SEGMENT = 1,
  NL_HTTP_REC_CLOSE = 2,
};

enum nl_http_record_flags {
  NL_HTTP_F_WRITE = 1,       /* the process wrote the bytes (else: it read them) */
  NL_HTTP_F_NO_BUFFER = 2,   /* no user buffer (sendfile, splice, io_uring, ...): length only */
  NL_HTTP_F_COPY_FAILED = 4, /* bpf_probe_read_user failed: length only */
  NL_HTTP_F_TLS = 8,         /* the plaintext of a TLS connection (SSL_read/SSL_write) */
  NL_HTTP_F_MYSQL = 16,      /* a MySQL connection's call (verdict NL_HTTP_MYSQL), not HTTP */
  NL_HTTP_F_HTTP2 = 32,      /* an HTTP/2 connection's call (verdict or plain_verdict HTTP2) */
};

/* A ring-buffer record: this header, then `captured` bytes of data. */
struct nl_http_record {
  __u64 sk;
  __u64 cookie;
  __u64 ts_ns;  /* bpf_ktime_get_ns (CLOCK_MONOTONIC) when the call returned / the close */
  __u64 length; /* bytes the call moved (> 0); 0 for a close */
  __u32 pid;    /* tgid */
  __u32 tid;
  __u16 kind;     /* enum nl_http_record_kind */
  __u16 flags;    /* enum nl_http_record_flags */
  __u16 captured; /* data bytes following the header (<= length) */
  __u16 syscall;  /* the caller's syscall number (x86-64); TLS: enum nl_ssl_function */
  struct nl_tuple tuple;
  char comm[NL_COMM_LEN];
  __u16 tail_len; /* the call's last tail_len bytes are in tail; 0 when data reaches its end */
  __u8 tail[NL_HTTP_TAIL_BYTES];
  /* __u8 data[captured]; */
};

/* Slots of the per-CPU array http_stats. */
enum nl_http_stat {
  NL_HTTP_STAT_SEGMENTS = 0,       /* records written with bytes */
  NL_HTTP_STAT_SEGMENTS_NO_BUFFER, /* records written length only: no user buffer */
  NL_HTTP_STAT_LOST_RING_FULL,     /* segment or close records the ring had no room for */
  NL_HTTP_STAT_LOST_CONNS_FULL,    /* connections not tracked: http_conns was full */
  NL_HTTP_STAT_LOST_COPY_FAILED,   /* records written length only: the copy failed */
  NL_HTTP_STAT_VERDICT_HTTP,       /* connections classified, per verdict */
  NL_HTTP_STAT_VERDICT_TLS,
  NL_HTTP_STAT_VERDICT_OTHER,
  NL_HTTP_STAT_CLOSES,               /* close records written */
  NL_HTTP_STAT_LOST_PROC_STATS_FULL, /* verdicts not counted per process: http_proc_stats full */
  NL_HTTP_STAT_LOST_PIDS_FULL,       /* processes the kernel could not add: http_pids full */
  NL_HTTP_STAT_TLS_SEGMENTS,         /* of SEGMENTS: plaintext of SSL_read/SSL_write */
  NL_HTTP_STAT_TLS_VERDICT_HTTP,     /* TLS connections classified by their plaintext */
  NL_HTTP_STAT_TLS_VERDICT_OTHER,    /* ... neither HTTP/1 nor (asked for) HTTP/2 */
  NL_HTTP_STAT_TLS_LOST_NO_CONN,     /* plaintext calls whose connection was not known */
  NL_HTTP_STAT_TLS_LOST_CALLS_FULL,  /* SSL calls not followed: ssl_calls full */
  NL_HTTP_STAT_TLS_LOST_SSL_FULL,    /* SSL objects not remembered: ssl_conns full */
  NL_HTTP_STAT_VERDICT_MYSQL,        /* connections classified mysql */
  NL_HTTP_STAT_VERDICT_HTTP2,        /* connections classified http2 (TLS ones too) */
  NL_HTTP_STATS,
};

/* http_proc_stats: connections classified per process (tgid) and verdict. */
struct nl_http_proc_stats {
  __u64 connections[NL_HTTP_VERDICTS]; /* index: enum nl_http_verdict (UNKNOWN unused) */
};

#endif /* NETLENS_HTTP_CAPTURE_H */
