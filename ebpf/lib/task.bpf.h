/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The current process: its name and start time. Helpers only, no maps. */
#ifndef NETLENS_LIB_TASK_BPF_H
#define NETLENS_LIB_TASK_BPF_H

#include "lib/common.h"

/* Whether the kernel has bpf_get_current_task_btf (Linux >= 5.11): a BTF-typed task, read with
 * plain loads instead of probe-read calls (~15 ns each). A load-time constant (CO-RE): the
 * verifier drops the branch the kernel cannot run. */
#define NL_HAVE_TASK_BTF bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_current_task_btf)

/* The process's name: its main thread's comm, as /proc/PID/comm shows it
 * (bpf_get_current_comm would give the thread's, e.g. "civetweb-worker"). */
static __always_inline void nl_process_comm(char comm[NL_COMM_LEN]) {
  struct task_struct *leader;
  if (NL_HAVE_TASK_BTF)
    leader = bpf_get_current_task_btf()->group_leader;
  else
    leader = BPF_CORE_READ((struct task_struct *)bpf_get_current_task(), group_leader);
  if (!leader || bpf_probe_read_kernel(comm, NL_COMM_LEN, leader->comm) != 0)
    bpf_get_current_comm(comm, NL_COMM_LEN);
}

/* When the current process started, in boot-clock ns: with the pid it names one
 * process for good (pids are reused), and /proc/PID/stat shows the same clock. */
static __always_inline __u64 nl_process_start_time(void) {
  if (NL_HAVE_TASK_BTF) return bpf_get_current_task_btf()->group_leader->start_boottime;
  struct task_struct *task = (struct task_struct *)bpf_get_current_task();
  return BPF_CORE_READ(task, group_leader, start_boottime);
}

#endif /* NETLENS_LIB_TASK_BPF_H */
