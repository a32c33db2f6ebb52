/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* log2 histogram buckets (the layout is in lib/common.h). Helpers only, no maps. */
#ifndef NETLENS_LIB_HISTOGRAM_BPF_H
#define NETLENS_LIB_HISTOGRAM_BPF_H

#include "lib/common.h"

/* floor(log2(v)) for v > 0, without loops. */
static __always_inline __u32 nl_log2(__u64 v) {
  __u32 r = 0, shift;
  shift = (v > 0xFFFFFFFFULL) << 5;
  v >>= shift;
  r |= shift;
  shift = (v > 0xFFFF) << 4;
  v >>= shift;
  r |= shift;
  shift = (v > 0xFF) << 3;
  v >>= shift;
  r |= shift;
  shift = (v > 0xF) << 2;
  v >>= shift;
  r |= shift;
  shift = (v > 0x3) << 1;
  v >>= shift;
  r |= shift;
  r |= (v >> 1);
  return r;
}

static __always_inline __u32 nl_hist_bucket(__u64 ns) {
  if (ns < (1ULL << NL_HIST_SHIFT)) return 0;
  __u32 bucket = nl_log2(ns) - NL_HIST_SHIFT + 1;
  return bucket < NL_HIST_BUCKETS ? bucket : NL_HIST_BUCKETS - 1;
}

#endif /* NETLENS_LIB_HISTOGRAM_BPF_H */
