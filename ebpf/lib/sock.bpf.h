/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Reading a struct sock: family and protocol, its addresses as a struct nl_tuple, its
 * network namespace; the socket behind a file descriptor. Helpers only, no maps. */
#ifndef NETLENS_LIB_SOCK_BPF_H
#define NETLENS_LIB_SOCK_BPF_H

#include "lib/common.h"

#define NL_AF_INET 2
#define NL_AF_INET6 10
#define NL_IPPROTO_TCP 6

/* A field of sk: a plain load where sk is BTF-typed (`typed`: the tp_btf programs;
 * the verifier checks the load, and it saves a bpf_probe_read_kernel call, ~10-20 ns
 * each), a CO-RE probe read where it is not. `typed` is a constant at every call
 * site (the entry points pass true or false), so only one of the two is compiled. */
#define NL_SK_READ(typed, sk, field) ((typed) ? (sk)->field : BPF_CORE_READ(sk, field))

static __always_inline bool nl_is_tcp(struct sock *sk) {
  __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
  if (family != NL_AF_INET && family != NL_AF_INET6) return false;
  return BPF_CORE_READ(sk, sk_protocol) == NL_IPPROTO_TCP;
}

/* The same check with plain loads, for BTF-typed pointers (the tp_btf programs): the
 * verifier checks them, and they save the two probe-read calls (~20 ns/event). */
static __always_inline bool nl_is_tcp_typed(struct sock *sk) {
  __u16 family = sk->__sk_common.skc_family;
  if (family != NL_AF_INET && family != NL_AF_INET6) return false;
  return sk->sk_protocol == NL_IPPROTO_TCP;
}

static __always_inline void nl_v4_mapped(__u8 out[16], __u32 addr_be) {
  __builtin_memset(out, 0, 10);
  out[10] = 0xff;
  out[11] = 0xff;
  __builtin_memcpy(out + 12, &addr_be, 4);
}

static __always_inline void nl_read_tuple(struct sock *sk, struct nl_tuple *t, bool typed) {
  t->family = NL_SK_READ(typed, sk, __sk_common.skc_family);
  t->local_port = NL_SK_READ(typed, sk, __sk_common.skc_num);
  t->remote_port = bpf_ntohs(NL_SK_READ(typed, sk, __sk_common.skc_dport));
  if (t->family == NL_AF_INET) {
    nl_v4_mapped(t->local_addr, NL_SK_READ(typed, sk, __sk_common.skc_rcv_saddr));
    nl_v4_mapped(t->remote_addr, NL_SK_READ(typed, sk, __sk_common.skc_daddr));
  } else if (typed) {
    __builtin_memcpy(t->local_addr, sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8, 16);
    __builtin_memcpy(t->remote_addr, sk->__sk_common.skc_v6_daddr.in6_u.u6_addr8, 16);
  } else {
    BPF_CORE_READ_INTO(&t->local_addr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
    BPF_CORE_READ_INTO(&t->remote_addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
  }
}

/* Inode of the socket's network namespace, as stat -L /proc/PID/ns/net shows it. */
static __always_inline __u32 nl_netns_of(struct sock *sk, bool typed) {
  if (typed) return sk->__sk_common.skc_net.net->ns.inum;
  return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/* syscalls:sys_exit_*: the layout every such event has (tracefs format). */
struct nl_sys_exit_args {
  __u64 common; /* common_type, flags, preempt_count, pid */
  int syscall_nr;
  long ret;
};

#define NL_S_IFMT 00170000
#define NL_S_IFSOCK 0140000

/* The struct sock behind file descriptor fd of the current task, or NULL if fd is not a socket
 * (its inode not S_IFSOCK: a file's private_data is something else). *ino, if given: the socket
 * inode's number, which names the socket for its lifetime where a program may not ask for its
 * cookie (classic tracepoints). Probe reads only: any program type. */
static __always_inline struct sock *nl_sock_of_fd(long fd, __u64 *ino) {
  struct task_struct *task = (struct task_struct *)bpf_get_current_task();
  struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
  if (!fdt || fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds)) return NULL;
  struct file **fds = BPF_CORE_READ(fdt, fd);
  struct file *file = NULL;
  if (bpf_core_read(&file, sizeof(file), &fds[fd]) != 0 || !file) return NULL;
  struct inode *inode = BPF_CORE_READ(file, f_inode);
  if (!inode || (BPF_CORE_READ(inode, i_mode) & NL_S_IFMT) != NL_S_IFSOCK) return NULL;
  if (ino) *ino = BPF_CORE_READ(inode, i_ino);
  struct socket *sock = (struct socket *)BPF_CORE_READ(file, private_data);
  if (!sock) return NULL;
  return BPF_CORE_READ(sock, sk);
}

#endif /* NETLENS_LIB_SOCK_BPF_H */
