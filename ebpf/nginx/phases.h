/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * nginx request phases (issue 17): the contract between ebpf/nginx/phases.bpf.c and
 * daemon/nginx/. Plain C: included by the program (with vmlinux.h) and by the daemon.
 *
 * One uprobe per nginx binary, at ngx_http_free_request (where nginx runs its log phase), reads
 * nginx's own fields of the request being freed, through the struct offsets of the binary's
 * build (nginx_builds, indexed by the link's cookie), and writes one record per request into
 * the ring buffer nginx_events without a wakeup; the daemon drains it on a timer.
 */
#ifndef NETLENS_NGINX_PHASES_H
#define NETLENS_NGINX_PHASES_H

#include "lib/common.h"

#define NL_NGINX_BUILDS 16       /* builds (binaries) probed at once */
#define NL_NGINX_TRIES 4         /* upstream tries copied per request (more are counted only) */
#define NL_NGINX_PATH_BYTES 128  /* of r->unparsed_uri */
#define NL_NGINX_METHOD_BYTES 16 /* of r->method_name */
#define NL_NGINX_PEER_BYTES 64   /* of an upstream state's peer name */

/* Where nginx keeps what is read: offsetof() in the build's structs
 * (daemon/nginx/builds/, scripts/nginx/gen-offsets.sh), and where ngx_cached_time is. */
struct nl_nginx_build {
  /* &ngx_cached_time - &ngx_http_free_request, in the same ELF file: the probe's address
   * plus this is the variable's address in any process, whatever the load address (PIE). */
  __s64 cached_time_delta;
  __u32 request_connection, request_upstream_states, request_status, request_err_status;
  __u32 request_start_sec, request_start_msec, request_length, request_unparsed_uri;
  __u32 request_method_name, connection_sent, connection_local_sockaddr, array_elts;
  __u32 array_nelts, upstream_state_size, upstream_state_status, upstream_state_response_time;
  __u32 upstream_state_connect_time, upstream_state_header_time, upstream_state_bytes_received;
  __u32 upstream_state_bytes_sent, upstream_state_peer, str_len, str_data, time_sec;
  __u32 time_msec;
  /* Where the probe is (enum nl_nginx_request_at): at the function's entry, or at the build's
   * probe site inside it (daemon/nginx/builds/README.md), with r in that register. */
  __u32 request_at;
};

/* The probe at ngx_http_free_request's entry: r and rc are its arguments, the status not final
 * yet. At a probe site (an instruction the kernel emulates, past the status' last change and
 * before the log phase): r in a callee-saved register, the status final. x86-64 only. */
enum nl_nginx_request_at {
  NL_NGINX_AT_ENTRY = 0,
  NL_NGINX_AT_SITE_RBX = 1,
  NL_NGINX_AT_SITE_RBP = 2,
  NL_NGINX_AT_SITE_R12 = 3,
  NL_NGINX_AT_SITE_R13 = 4,
  NL_NGINX_AT_SITE_R14 = 5,
  NL_NGINX_AT_SITE_R15 = 6,
};

/* One upstream try: an element of r->upstream_states. The times are nginx's milliseconds;
 * NL_NGINX_NO_TIME where nginx would log "-" (the phase not reached). */
#define NL_NGINX_NO_TIME (~0ULL)
struct nl_nginx_try {
  __u64 status; /* 0: no response (nginx logs "-" for every time of it) */
  __u64 connect_ms, header_ms, response_ms;
  __u64 bytes_received, bytes_sent;
  __u32 peer_len; /* the whole name's length; min(peer_len, NL_NGINX_PEER_BYTES) copied */
  char peer[NL_NGINX_PEER_BYTES];
};

/* One request, as nginx's log phase sees it. */
struct nl_nginx_request {
  __u32 pid;
  __u32 build;          /* index into nginx_builds */
  __u64 status;         /* $status */
  __u64 request_ms;     /* $request_time, in ms */
  __u64 request_length; /* $request_length */
  __u64 bytes_sent;     /* $bytes_sent */
  __u32 tries;          /* r->upstream_states->nelts (0: no upstream) */
  __u16 local_family;   /* AF_INET, AF_INET6 (0: unknown) of the listening address */
  __u16 local_port;     /* host order */
  __u8 local_addr[16];  /* IPv4 in the first 4 bytes */
  __u32 path_len;       /* r->unparsed_uri.len; min(path_len, NL_NGINX_PATH_BYTES) copied */
  __u32 method_len;
  char method[NL_NGINX_METHOD_BYTES];
  char path[NL_NGINX_PATH_BYTES];
  struct nl_nginx_try tries_copied[NL_NGINX_TRIES];
};

enum nl_nginx_stat {
  NL_NGINX_STAT_REQUESTS = 0,    /* records written */
  NL_NGINX_STAT_RING_FULL = 1,   /* requests lost: the ring was full */
  NL_NGINX_STAT_READ_FAILED = 2, /* requests lost: nginx's memory could not be read */
  NL_NGINX_STAT_NO_BUILD = 3,    /* probe hits with no build at the cookie (never expected) */
  NL_NGINX_STAT_MAX = 4,
};

#endif /* NETLENS_NGINX_PHASES_H */
