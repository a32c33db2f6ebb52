/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The process-metadata contract: the proc_cgroups map (ebpf/process/cgroups.bpf.h). */
#ifndef NETLENS_PROCESS_PROCESS_H
#define NETLENS_PROCESS_PROCESS_H

#include "lib/common.h"

/* proc_cgroups (LRU hash, limits.processes): a process's cgroup v2 id (its
 * directory's inode), taken in process context where its identity is, so that
 * one that exits before user space reads /proc still gets its cgroup labels. */
struct nl_proc_key {
  __u32 pid;
  __u32 _pad;
  __u64 start_time; /* as in nl_agg_key */
};

#endif /* NETLENS_PROCESS_PROCESS_H */
