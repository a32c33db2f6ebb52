// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Prototypes of the send-path accounting, for bench/ part 4: each program is one
 * way of doing (part of) what nl_send_tp_btf does on tp_btf/sock_send_length, so
 * that attaching them one at a time to the same traffic prices each ingredient:
 * CO-RE probe reads vs direct BTF loads, hash vs per-CPU hash vs socket storage,
 * atomic vs plain adds. v_netlens runs netlens' own nl_on_data_typed() unchanged.
 * Maps here never delete: run them on keep-alive traffic only. */
/* vmlinux.h must come before the libbpf headers. */
// clang-format off
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
// clang-format on

#include "tcp/conn_track.bpf.h" /* netlens' accounting (ebpf/tcp/), with its maps */

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct counters {
  __u64 bytes;
  __u64 calls;
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, __u64); /* struct sock * */
  __type(value, struct counters);
} v_hash SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, 65536);
  __type(key, __u64); /* struct sock * */
  __type(value, struct counters);
} v_pcpu SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_SK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, struct counters);
} v_sks SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, __u32); /* tgid, as bpftrace's @sent[pid] */
  __type(value, struct counters);
} v_pid SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct counters);
} v_array SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct counters);
} v_pcpu_arr SEC(".maps");

/* netlens' check: two bpf_probe_read_kernel() calls through BPF_CORE_READ. */
static __always_inline bool core_is_tcp(struct sock *sk) {
  __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
  if (family != 2 && family != 10) return false;
  return BPF_CORE_READ(sk, sk_protocol) == 6;
}

/* The same check as plain loads: tp_btf arguments are BTF-typed pointers. */
static __always_inline bool direct_is_tcp(struct sock *sk) {
  __u16 family = sk->__sk_common.skc_family;
  if (family != 2 && family != 10) return false;
  return sk->sk_protocol == 6;
}

static __always_inline struct counters *entry_of(void *map, const void *key) {
  struct counters *c = bpf_map_lookup_elem(map, key);
  if (c) return c;
  struct counters zero = {};
  bpf_map_update_elem(map, key, &zero, BPF_NOEXIST);
  return bpf_map_lookup_elem(map, key);
}

static __always_inline void add_atomic(struct counters *c, int bytes) {
  __sync_fetch_and_add(&c->bytes, bytes);
  __sync_fetch_and_add(&c->calls, 1);
}

static __always_inline void add_plain(struct counters *c, int bytes) {
  c->bytes += bytes;
  c->calls += 1;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(v_empty, struct sock *sk, int ret, int flags) { return 0; }

SEC("tp_btf/sock_send_length")
int BPF_PROG(v_core_tcp, struct sock *sk, int ret, int flags) {
  if (ret <= 0 || !core_is_tcp(sk)) return 0;
  return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(v_direct_tcp, struct sock *sk, int ret, int flags) {
  if (ret <= 0 || !direct_is_tcp(sk)) return 0;
  return 0;
}

/* Floors: one counter for the whole host, shared by all CPUs (atomics) or per CPU. */
SEC("tp_btf/sock_send_length")
int BPF_PROG(v_array_atomic, struct sock *sk, int ret, int flags) {
  if (ret <= 0 || !direct_is_tcp(sk)) return 0;
  __u32 zero = 0;
  struct counters *c = bpf_map_lookup_elem(&v_array, &zero);
  if (c) add_atomic(c, ret);
  return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(v_pcpu_array, struct sock *sk, int ret, int flags) {
  if (ret <= 0 || !direct_is_tcp(sk)) return 0;
  __u32 zero = 0;
  struct counters *c = bpf_map_lookup_elem(&v_pcpu_arr, &zero);
  if (c) add_plain(c, ret);
  return 0;
}

/* The hash lookup alone: entries created once, never written afterwards. */
SEC("tp_btf/sock_send_length")
int BPF_PROG(v_hash_lookup, struct sock *sk, int ret, int flags) {
  if (ret <= 0 || !direct_is_tcp(sk)) return 0;
  __u64 key = (__u64)sk;
  struct counters *c = entry_of(&v_hash, &key);
  if (c && c->calls == 0xffffffffffffffffULL) c->calls = 0; /* keeps the lookup; never true */
  return 0;
}

/* netlens' data path shape: CO-RE reads, hash keyed by the sock pointer, atomics. */
SEC("tp_btf/sock_send_length")
int BPF_PROG(v_hash_core_atom, struct sock *sk, int ret, int flags) {
  if (ret <= 0 || !core_is_tcp(sk)) return 0;
  __u64 key = (__u64)sk;
  struct counters *c = entry_of(&v_hash, &key);
  if (c) add_atomic(c, ret);
  return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(v_hash_atomic, struct sock *sk, int ret, int flags) {
  if (ret <= 0 || !direct_is_tcp(sk)) return 0;
  __u64 key = (__u64)sk;
  struct counters *c = entry_of(&v_hash, &key);
  if (c) add_atomic(c, ret);
  return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(v_hash_plain, struct sock *sk, int ret, int flags) {
  if (ret <= 0 || !direct_is_tcp(sk)) return 0;
  __u64 key = (__u64)sk;
  struct counters *c = entry_of(&v_hash, &key);
  if (c) add_plain(c, ret); /* racy across CPUs: a lower bound only */
  return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(v_pcpu_hash, struct sock *sk, int ret, int flags) {
  if (ret <= 0 || !direct_is_tcp(sk)) return 0;
  __u64 key = (__u64)sk;
  struct counters *c = entry_of(&v_pcpu, &key);
  if (c) add_plain(c, ret); /* per-CPU value: exact without atomics */
  return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(v_sks_atomic, struct sock *sk, int ret, int flags) {
  if (ret <= 0 || !direct_is_tcp(sk)) return 0;
  struct counters *c = bpf_sk_storage_get(&v_sks, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
  if (c) add_atomic(c, ret);
  return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(v_sks_plain, struct sock *sk, int ret, int flags) {
  if (ret <= 0 || !direct_is_tcp(sk)) return 0;
  struct counters *c = bpf_sk_storage_get(&v_sks, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
  if (c) add_plain(c, ret); /* racy only if two threads send on one socket at once */
  return 0;
}

/* What bpftrace's @sent[pid] = sum(args->ret) does, as tp_btf. */
SEC("tp_btf/sock_send_length")
int BPF_PROG(v_pid_hash, struct sock *sk, int ret, int flags) {
  if (ret <= 0 || !direct_is_tcp(sk)) return 0;
  __u32 pid = bpf_get_current_pid_tgid() >> 32;
  struct counters *c = entry_of(&v_pid, &pid);
  if (c) add_atomic(c, ret);
  return 0;
}

/* netlens' nl_send_tp_btf, the same code, loaded by the bench loader. */
SEC("tp_btf/sock_send_length")
int BPF_PROG(v_netlens, struct sock *sk, int ret, int flags) {
  nl_on_data_typed(sk, ret, true);
  return 0;
}

/* The same with the TCP check through CO-RE probe reads (what tracepoint and
 * kprobe modes do, and what nl_send_tp_btf did before it used direct loads). */
SEC("tp_btf/sock_send_length")
int BPF_PROG(v_netlens_core, struct sock *sk, int ret, int flags) {
  nl_on_data(sk, ret, true);
  return 0;
}

/* The receive side, for comparison with the send side on the same traffic. */
SEC("tp_btf/sock_recv_length")
int BPF_PROG(v_recv_empty, struct sock *sk, int ret, int flags) { return 0; }

SEC("tp_btf/sock_recv_length")
int BPF_PROG(v_recv_netlens, struct sock *sk, int ret, int flags) {
  if (!nl_recv_flags_counted(flags)) return 0;
  nl_on_data_typed(sk, ret, false);
  return 0;
}
