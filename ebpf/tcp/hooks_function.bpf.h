/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Function attach modes for kernels without the sock tracepoints (< 6.3):
 * fentry/fexit (BTF trampolines) and kprobe/kretprobe, on
 *   tcp_sendmsg          every send call (fexit/kretprobe: its return value),
 *   tcp_sendpage         sendfile/splice before Linux 6.5 (absent after),
 *   tcp_recvmsg          every receive call (MSG_PEEK known from its flags),
 *   tcp_cleanup_rbuf     data read outside tcp_recvmsg (tcp_read_sock: splice,
 *                        kTLS); inside tcp_recvmsg it is skipped, because
 *                        there it reports partial progress, not a call.
 */
#ifndef NETLENS_TCP_HOOKS_FUNCTION_BPF_H
#define NETLENS_TCP_HOOKS_FUNCTION_BPF_H

#include "tcp/conn_track.bpf.h"

/* Which argument of tcp_recvmsg holds flags: 3 since Linux 5.19, 4 before
 * (a `nonblock` argument came first). Set by the daemon from kernel BTF. */
const volatile __u32 nl_recvmsg_flags_arg = 3;

/* Calls in progress, by thread: entry probes remember the socket for the
 * return probe. Bounded by the number of threads inside these calls. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, __u64); /* pid_tgid */
  __type(value, struct nl_call);
} tcp_calls SEC(".maps");

static __always_inline void nl_call_begin(struct sock *sk, __u32 flags, __u8 is_send) {
  __u64 id = bpf_get_current_pid_tgid();
  struct nl_call call = {.sock = (__u64)sk, .flags = flags, .is_send = is_send};
  if (bpf_map_update_elem(&tcp_calls, &id, &call, BPF_ANY) != 0) nl_stat_inc(NL_STAT_CALLS_FULL);
}

static __always_inline void nl_call_end(int ret, __u8 is_send) {
  __u64 id = bpf_get_current_pid_tgid();
  struct nl_call *call = bpf_map_lookup_elem(&tcp_calls, &id);
  if (!call || call->is_send != is_send) return;
  struct sock *sk = (struct sock *)call->sock;
  __u32 flags = call->flags;
  bpf_map_delete_elem(&tcp_calls, &id);
  if (!is_send && !nl_recv_flags_counted(flags)) return;
  nl_on_data(sk, ret, is_send);
}

/* tcp_cleanup_rbuf outside tcp_recvmsg: a read through tcp_read_sock. */
static __always_inline void nl_on_cleanup_rbuf(struct sock *sk, int copied) {
  __u64 id = bpf_get_current_pid_tgid();
  struct nl_call *call = bpf_map_lookup_elem(&tcp_calls, &id);
  if (call && !call->is_send) return;
  nl_on_data(sk, copied, false);
}

/* ---- fentry / fexit ---- */

SEC("fexit/tcp_sendmsg")
int BPF_PROG(nl_sendmsg_fexit, struct sock *sk, struct msghdr *msg, size_t size, int ret) {
  nl_on_data(sk, ret, true);
  return 0;
}

SEC("fexit/tcp_sendpage")
int BPF_PROG(nl_sendpage_fexit, struct sock *sk, struct page *page, int offset, size_t size,
             int flags, int ret) {
  nl_on_data(sk, ret, true);
  return 0;
}

SEC("fentry/tcp_recvmsg")
int BPF_PROG(nl_recvmsg_fentry, struct sock *sk) {
  nl_call_begin(sk, 0, 0);
  return 0;
}

/* The argument count differs across kernels; the helpers read by position. */
SEC("fexit/tcp_recvmsg")
int BPF_PROG(nl_recvmsg_fexit, struct sock *sk) {
  __u64 flags = 0, ret = 0;
  bpf_get_func_arg(ctx, nl_recvmsg_flags_arg, &flags);
  bpf_get_func_ret(ctx, &ret);
  __u64 id = bpf_get_current_pid_tgid();
  bpf_map_delete_elem(&tcp_calls, &id);
  if (!nl_recv_flags_counted((int)flags)) return 0;
  nl_on_data(sk, (int)ret, false);
  return 0;
}

SEC("fentry/tcp_cleanup_rbuf")
int BPF_PROG(nl_cleanup_rbuf_fentry, struct sock *sk, int copied) {
  nl_on_cleanup_rbuf(sk, copied);
  return 0;
}

/* ---- kprobe / kretprobe ---- */

SEC("kprobe/tcp_sendmsg")
int BPF_KPROBE(nl_sendmsg_kprobe, struct sock *sk) {
  nl_call_begin(sk, 0, 1);
  return 0;
}

SEC("kretprobe/tcp_sendmsg")
int BPF_KRETPROBE(nl_sendmsg_kretprobe, int ret) {
  nl_call_end(ret, 1);
  return 0;
}

SEC("kprobe/tcp_sendpage")
int BPF_KPROBE(nl_sendpage_kprobe, struct sock *sk) {
  nl_call_begin(sk, 0, 1);
  return 0;
}

SEC("kretprobe/tcp_sendpage")
int BPF_KRETPROBE(nl_sendpage_kretprobe, int ret) {
  nl_call_end(ret, 1);
  return 0;
}

SEC("kprobe/tcp_recvmsg")
int BPF_KPROBE(nl_recvmsg_kprobe, struct sock *sk) {
  /* Read both at fixed offsets, then choose: a computed offset into ctx is
   * rejected by the verifier ("dereference of modified ctx ptr"). */
  __u64 parm4 = PT_REGS_PARM4(ctx), parm5 = PT_REGS_PARM5(ctx);
  asm volatile("" : "+r"(parm4));
  asm volatile("" : "+r"(parm5));
  __u32 flags = (__u32)(nl_recvmsg_flags_arg == 3 ? parm4 : parm5);
  nl_call_begin(sk, flags, 0);
  return 0;
}

SEC("kretprobe/tcp_recvmsg")
int BPF_KRETPROBE(nl_recvmsg_kretprobe, int ret) {
  nl_call_end(ret, 0);
  return 0;
}

SEC("kprobe/tcp_cleanup_rbuf")
int BPF_KPROBE(nl_cleanup_rbuf_kprobe, struct sock *sk, int copied) {
  nl_on_cleanup_rbuf(sk, copied);
  return 0;
}

#endif /* NETLENS_TCP_HOOKS_FUNCTION_BPF_H */
