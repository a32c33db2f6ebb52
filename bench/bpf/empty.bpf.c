// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Baselines for bench/: programs that do nothing, one per hook netlens uses.
 * Their bpf_stats run time is the fixed cost of being attached to that hook
 * (dispatch + the stats clock reads), the floor any accounting program pays.
 * The loader (bench/loader.c) attaches only the programs named on its command line. */
/* vmlinux.h must come before the libbpf headers. */
// clang-format off
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
// clang-format on

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* tp_btf: the attach mode of nl_send_tp_btf, nl_recv_tp_btf, nl_state_tp_btf,
 * nl_destroy_tp_btf. */
SEC("tp_btf/sock_send_length")
int BPF_PROG(empty_send_btf) { return 0; }

SEC("tp_btf/sock_recv_length")
int BPF_PROG(empty_recv_btf) { return 0; }

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(empty_state_btf) { return 0; }

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(empty_destroy_btf) { return 0; }

/* Classic tracepoints: the attach mode of nl_retransmit_tp, and of bpftrace's
 * tracepoint:sock:sock_{send,recv}_length probes. */
SEC("tracepoint/tcp/tcp_retransmit_skb")
int empty_rtx_tp(void *ctx) { return 0; }

/* The accept hook's attach mode (nginx accepts with accept4). */
SEC("tracepoint/syscalls/sys_exit_accept4")
int empty_accept4_tp(void *ctx) { return 0; }

SEC("tracepoint/sock/sock_send_length")
int empty_send_tp(void *ctx) { return 0; }

SEC("tracepoint/sock/sock_recv_length")
int empty_recv_tp(void *ctx) { return 0; }
