// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* nginx request phases (issue 17): one uprobe per request, in ngx_http_free_request(r, rc),
 * which runs nginx's log phase: at the build's probe site inside it where the build table names
 * one and the binary holds it, else at its entry; an object of its own, loaded only when nginx
 * phases are asked for (daemon/nginx/phases_probe.cpp). The contract is ebpf/nginx/phases.h.
 *
 * A uprobe costs microseconds per hit here (ngx_http_free_request starts with `push`, which the
 * kernel single-steps: about 7 us; the probe site is a branch, which it emulates), so there is
 * exactly one per request, and it reads what nginx itself measured rather
 * than timing phases with probes of its own: the request's start (r->start_sec/msec) against
 * nginx's cached clock (ngx_cached_time, the clock the access log's $request_time reads), the
 * status as the log module would print it, the sizes, and the upstream state array (connect,
 * header and response times of each try, as $upstream_*_time). */
/* vmlinux.h must come before the libbpf headers. */
// clang-format off
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
// clang-format on

#include "nginx/phases.h"

#include "lib/percpu_stats.bpf.h"

#define NL_AF_INET 2
#define NL_AF_INET6 10

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, NL_NGINX_BUILDS);
  __type(key, __u32);
  __type(value, struct nl_nginx_build);
} nginx_builds SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 1 << 20); /* about 1,400 requests; the daemon drains every 100 ms */
} nginx_events SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, NL_NGINX_STAT_MAX);
  __type(key, __u32);
  __type(value, __u64);
} nginx_stats SEC(".maps");

/* 8 bytes of nginx's memory at base + offset; false if not readable. */
static __always_inline bool nl_read_u64(const void *base, __u32 offset, __u64 *value) {
  return bpf_probe_read_user(value, sizeof(*value), (const char *)base + offset) == 0;
}

/* An ngx_str_t at base + offset: its length, and up to size bytes of it into out. */
static __always_inline __u32 nl_read_str(const struct nl_nginx_build *b, const void *base,
                                         __u32 offset, char *out, __u32 size) {
  __u64 len = 0, data = 0;
  if (!nl_read_u64(base, offset + b->str_len, &len) ||
      !nl_read_u64(base, offset + b->str_data, &data) || !data)
    return 0;
  __u32 copy = size;
  if (len < size) copy = (__u32)len;
  bpf_probe_read_user(out, copy, (const void *)data);
  return len > 0xffffffffULL ? 0xffffffffU : (__u32)len;
}

/* A milliseconds field of an upstream state: nginx's (ngx_msec_t) -1 for a phase not reached,
 * and every time of a try without a status, show as NL_NGINX_NO_TIME ("-" in the log). */
static __always_inline __u64 nl_try_time(const void *state, __u32 offset, __u64 status) {
  __u64 ms = NL_NGINX_NO_TIME;
  if (!status || !nl_read_u64(state, offset, &ms)) return NL_NGINX_NO_TIME;
  return ms;
}

static __always_inline void nl_read_try(const struct nl_nginx_build *b, const void *state,
                                        struct nl_nginx_try *out) {
  __u64 peer = 0;
  nl_read_u64(state, b->upstream_state_status, &out->status);
  out->connect_ms = nl_try_time(state, b->upstream_state_connect_time, out->status);
  out->header_ms = nl_try_time(state, b->upstream_state_header_time, out->status);
  out->response_ms = nl_try_time(state, b->upstream_state_response_time, out->status);
  nl_read_u64(state, b->upstream_state_bytes_received, &out->bytes_received);
  nl_read_u64(state, b->upstream_state_bytes_sent, &out->bytes_sent);
  if (nl_read_u64(state, b->upstream_state_peer, &peer) && peer)
    out->peer_len = nl_read_str(b, (const void *)peer, 0, out->peer, NL_NGINX_PEER_BYTES);
}

/* The listening address the request came in on (c->local_sockaddr: the listen socket's address
 * unless nginx looked up the connection's own). */
static __always_inline void nl_read_local(const struct nl_nginx_build *b, const void *connection,
                                          struct nl_nginx_request *out) {
  __u64 sockaddr = 0;
  if (!nl_read_u64(connection, b->connection_local_sockaddr, &sockaddr) || !sockaddr) return;
  struct sockaddr_in6 address = {};
  if (bpf_probe_read_user(&address, sizeof(address), (const void *)sockaddr) != 0) return;
  out->local_family = address.sin6_family;
  out->local_port = bpf_ntohs(address.sin6_port);
  if (address.sin6_family == NL_AF_INET) {
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)&address;
    __builtin_memcpy(out->local_addr, &v4->sin_addr, 4);
  } else if (address.sin6_family == NL_AF_INET6) {
    __builtin_memcpy(out->local_addr, &address.sin6_addr, 16);
  }
}

/* r at the build's probe site: the callee-saved register the function keeps it in there. */
static __always_inline void *nl_request_at_site(struct pt_regs *regs, __u32 at) {
#if defined(__TARGET_ARCH_x86)
  /* Loaded at constant offsets, then picked: a load at a variable offset into the context is
   * refused by the verifier. */
  const __u64 saved[] = {regs->bx, regs->bp, regs->r12, regs->r13, regs->r14, regs->r15};
  const __u32 index = at - NL_NGINX_AT_SITE_RBX;
  if (index < sizeof(saved) / sizeof(saved[0])) return (void *)saved[index];
#endif
  return NULL;
}

SEC("uprobe")
int BPF_KPROBE(nl_nginx_free_request, void *r, long rc) {
  const __u32 index = (__u32)bpf_get_attach_cookie(ctx);
  const struct nl_nginx_build *b = bpf_map_lookup_elem(&nginx_builds, &index);
  if (!b || !b->request_start_sec) {
    nl_percpu_inc(&nginx_stats, NL_NGINX_STAT_NO_BUILD);
    return 0;
  }
  const bool at_entry = b->request_at == NL_NGINX_AT_ENTRY;
  if (!at_entry) r = nl_request_at_site(ctx, b->request_at);
  struct nl_nginx_request *out = bpf_ringbuf_reserve(&nginx_events, sizeof(*out), 0);
  if (!out) {
    nl_percpu_inc(&nginx_stats, NL_NGINX_STAT_RING_FULL);
    return 0;
  }
  __builtin_memset(out, 0, sizeof(*out));
  out->pid = bpf_get_current_pid_tgid() >> 32;
  out->build = index;

  /* The uprobe's address (the function's, or its probe site's) in this process. */
  const __u64 cached_time_at = PT_REGS_IP(ctx) + b->cached_time_delta;
  __u64 connection = 0, now = 0, now_sec = 0, now_msec = 0, start_sec = 0, start_msec = 0;
  __u64 status = 0, err_status = 0, sent = 0, states = 0;
  if (!nl_read_u64(r, b->request_connection, &connection) || !connection ||
      !nl_read_u64((const void *)cached_time_at, 0, &now) || !now ||
      !nl_read_u64((const void *)now, b->time_sec, &now_sec) ||
      !nl_read_u64((const void *)now, b->time_msec, &now_msec) ||
      !nl_read_u64(r, b->request_start_sec, &start_sec) ||
      !nl_read_u64(r, b->request_start_msec, &start_msec) ||
      !nl_read_u64(r, b->request_status, &status) ||
      !nl_read_u64(r, b->request_err_status, &err_status) ||
      !nl_read_u64(r, b->request_length, &out->request_length) ||
      !nl_read_u64((const void *)connection, b->connection_sent, &sent)) {
    bpf_ringbuf_discard(out, 0);
    nl_percpu_inc(&nginx_stats, NL_NGINX_STAT_READ_FAILED);
    return 0;
  }
  /* $request_time: ngx_http_log_request_time() (ms, never negative). */
  const __s64 ms = (__s64)(now_sec - start_sec) * 1000 + (__s64)(now_msec - start_msec);
  out->request_ms = ms > 0 ? (__u64)ms : 0;
  /* $status: what ngx_http_free_request sets before logging (done by the site), then
   * ngx_http_log_status(). */
  if (at_entry && rc > 0 && (status == 0 || sent == 0)) status = (__u64)rc;
  out->status = err_status ? err_status : status;
  out->bytes_sent = sent;
  out->method_len = nl_read_str(b, r, b->request_method_name, out->method, NL_NGINX_METHOD_BYTES);
  out->path_len = nl_read_str(b, r, b->request_unparsed_uri, out->path, NL_NGINX_PATH_BYTES);
  nl_read_local(b, (const void *)connection, out);

  if (nl_read_u64(r, b->request_upstream_states, &states) && states) {
    __u64 elts = 0, nelts = 0;
    if (nl_read_u64((const void *)states, b->array_elts, &elts) &&
        nl_read_u64((const void *)states, b->array_nelts, &nelts) && elts) {
      out->tries = nelts > 0xffff ? 0xffff : (__u32)nelts;
      for (__u32 i = 0; i < NL_NGINX_TRIES && i < out->tries; ++i)
        nl_read_try(b, (const void *)(elts + (__u64)i * b->upstream_state_size),
                    &out->tries_copied[i]);
    }
  }
  bpf_ringbuf_submit(out, BPF_RB_NO_WAKEUP);
  nl_percpu_inc(&nginx_stats, NL_NGINX_STAT_REQUESTS);
  return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
