/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Latency histograms of TCP connections, kept in the kernel in log2 buckets. */
#ifndef NETLENS_TCP_LATENCY_BPF_H
#define NETLENS_TCP_LATENCY_BPF_H

#include "lib/histogram.bpf.h"
#include "tcp/maps.bpf.h"

/* Adds one sample to the histogram under key (the caller fills it in; the overflow
 * key replaces it when latency is full). A subprogram, not inlined: with two inlined
 * copies in one program (response time and RTT on the same receive), the fentry
 * programs soft-locked both CPUs of Linux 6.1 in the kernel-matrix test. Not
 * understood yet; one copy works. */
static __noinline void nl_hist_add(struct nl_hist_key *key, __u64 ns) {
  struct nl_hist *hist = bpf_map_lookup_elem(&tcp_latency, key);
  if (!hist) {
    bpf_map_update_elem(&tcp_latency, key, &nl_zero_hist, BPF_NOEXIST);
    hist = bpf_map_lookup_elem(&tcp_latency, key);
  }
  if (!hist) {
    __u32 kind = key->kind;
    nl_stat_inc(NL_STAT_LATENCY_FULL);
    __builtin_memset(key, 0, sizeof(*key));
    key->agg.direction = NL_DIR_OVERFLOW;
    key->kind = kind;
    hist = bpf_map_lookup_elem(&tcp_latency, key); /* inserted by the daemon */
    if (!hist) return;
  }
  __u32 bucket = nl_hist_bucket(ns);
  /* Hide the range from the compiler so the mask stays: the verifier of older
   * kernels (6.1) only trusts a bound on the register it indexes with. */
  asm volatile("" : "+r"(bucket));
  bucket &= NL_HIST_BUCKETS - 1;
  __sync_fetch_and_add(&hist->buckets[bucket], 1);
  __sync_fetch_and_add(&hist->sum_ns, ns);
  /* hist->count is left 0: it is the sum of the buckets, which the daemon adds up
   * when it reads the map (kernel_maps.cpp). One contended atomic less per record. */
}

static __always_inline void nl_hist_record(const struct nl_agg_key *agg, __u32 kind, __u64 ns) {
  struct nl_hist_key key = {.agg = *agg, .kind = kind};
  nl_hist_add(&key, ns);
}

#endif /* NETLENS_TCP_LATENCY_BPF_H */
