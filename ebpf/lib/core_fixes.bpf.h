/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kernel types that some supported kernels lack or lay out differently.
 *
 * The programs are compiled against one pinned vmlinux.h (ebpf/vmlinux/ARCH, Debian 12's
 * 6.1), but must load on every kernel from 5.x to the newest. Every type here has a ___nl
 * flavour: libbpf strips the suffix and matches the kernel's own type by name at load time,
 * relocating each field (preserve_access_index), so one object serves kernels that have the
 * type in any layout. A program that uses a type its kernel lacks is never loaded there: the
 * attach mode is picked per hook (daemon/bpf/attach_modes.cpp).
 */
#ifndef NETLENS_LIB_CORE_FIXES_BPF_H
#define NETLENS_LIB_CORE_FIXES_BPF_H

/* sock:sock_send_length / sock:sock_recv_length, added in Linux 6.3 ("net: sock: add
 * tracepoints for send and receive length"): the classic tracepoints' context. */
struct trace_event_raw_sock_msg_length___nl {
  const void *sk;
  __u16 family;
  __u16 protocol;
  int ret;
  int flags;
} __attribute__((preserve_access_index));

/* tcp:tcp_destroy_sock (Linux >= 5.12) uses the tcp_event_sk class. */
struct trace_event_raw_tcp_event_sk___nl {
  const void *skaddr;
} __attribute__((preserve_access_index));

/* tcp:tcp_retransmit_skb: its own event class with `err` in newer kernels (the tracepoint
 * then also fires for failed attempts); the shared tcp_event_sk_skb class before. CO-RE
 * tells which the running kernel has. */
struct trace_event_raw_tcp_retransmit_skb___nl {
  const void *skaddr;
  int err;
} __attribute__((preserve_access_index));

struct trace_event_raw_tcp_event_sk_skb___nl {
  const void *skaddr;
} __attribute__((preserve_access_index));

#endif /* NETLENS_LIB_CORE_FIXES_BPF_H */
