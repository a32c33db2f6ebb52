// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* All netlens programs in one object; each concern has its folder (tcp/, targets/,
 * process/; helpers in lib/). Includes are rooted at ebpf/. Every hook has a program per attach
 * mode; the daemon probes the kernel and loads only the ones it picks
 * (see daemon/attach_modes.cpp). */
/* vmlinux.h must come before the libbpf headers. */
// clang-format off
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
// clang-format on

#include "tcp/accept.bpf.h"
#include "tcp/adopt.bpf.h"
#include "tcp/hooks_function.bpf.h"
#include "tcp/hooks_scrape.bpf.h"
#include "tcp/hooks_tracepoint.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";
