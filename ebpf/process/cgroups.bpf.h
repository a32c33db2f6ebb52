/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The cgroup of each process seen in process context, kept for its labels after it exits
 * (user space reads /proc later; a short-lived process may be gone by then). */
#ifndef NETLENS_PROCESS_CGROUPS_BPF_H
#define NETLENS_PROCESS_CGROUPS_BPF_H

#include "process/process.h"

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, struct nl_proc_key);
  __type(value, __u64); /* cgroup id */
} proc_cgroups SEC(".maps");

/* Process context only: the current process's cgroup, for its labels after it
 * exits. Looked up per connection, written once per process and cgroup. */
static __noinline void nl_note_cgroup(__u32 pid, __u64 start_time) {
  struct nl_proc_key key = {.pid = pid, .start_time = start_time};
  __u64 cgroup = bpf_get_current_cgroup_id();
  __u64 *known = bpf_map_lookup_elem(&proc_cgroups, &key);
  if (!known || *known != cgroup) bpf_map_update_elem(&proc_cgroups, &key, &cgroup, BPF_ANY);
}

#endif /* NETLENS_PROCESS_CGROUPS_BPF_H */
