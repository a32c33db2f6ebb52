#include "bpf/attach_modes.h"

#include <bpf/btf.h>

#include <filesystem>

namespace netlens {
namespace {

bool HasBtf(const struct btf* btf, const std::string& name, int kind) {
  return btf && btf__find_by_name_kind(btf, name.c_str(), kind) >= 0;
}

bool TracepointExists(const std::string& category_event) {
  const auto colon = category_event.find(':');
  const std::string path = category_event.substr(0, colon) + "/" + category_event.substr(colon + 1);
  for (const char* root : {"/sys/kernel/tracing/events/", "/sys/kernel/debug/tracing/events/"}) {
    if (std::filesystem::exists(root + path)) return true;
  }
  return false;
}

bool TracefsMounted() {
  return std::filesystem::exists("/sys/kernel/tracing/events") ||
         std::filesystem::exists("/sys/kernel/debug/tracing/events");
}

bool KprobesAvailable() {
  return std::filesystem::exists("/sys/bus/event_source/devices/kprobe") ||
         std::filesystem::exists("/sys/kernel/tracing/kprobe_events") ||
         std::filesystem::exists("/sys/kernel/debug/tracing/kprobe_events");
}

// Why one program of `mode` cannot attach here, or "".
std::string PrecheckProgram(const std::string& mode, const ProgramSpec& program,
                            const struct btf* btf) {
  const std::string target = program.target;
  if (mode == "tp_btf") {
    const std::string event = target.substr(target.find(':') + 1);
    if (!btf) return "no kernel BTF";
    if (!HasBtf(btf, "btf_trace_" + event, BTF_KIND_TYPEDEF))
      return "no BTF tracepoint " + target + " (Linux >= 6.3 for the sock length events)";
    return "";
  }
  if (mode == "tracepoint") {
    if (TracepointExists(target)) return "";
    if (!TracefsMounted())
      return "tracefs is not mounted (mount -t tracefs tracefs /sys/kernel/tracing; systemd "
             "mounts it at boot)";
    return "no tracepoint " + target + " in tracefs";
  }
  if (mode == "fentry") {
    if (!btf) return "no kernel BTF";
    return HasBtf(btf, target, BTF_KIND_FUNC) ? "" : "no BTF for function " + target;
  }
  if (mode == "iter") {  // a BPF iterator the daemon runs (Linux >= 5.8 for task_file)
    if (!btf) return "no kernel BTF";
    if (!HasBtf(btf, "bpf_iter__" + target, BTF_KIND_STRUCT))
      return "no " + target + " iterator (Linux >= 5.8)";
    return "";
  }
  if (mode == "scrape") {  // run by the daemon (BPF_PROG_TEST_RUN), attached to nothing
    if (!btf) return "no kernel BTF";
    if (!HasBtf(btf, "bpf_for_each_map_elem", BTF_KIND_FUNC))
      return "no bpf_for_each_map_elem (Linux >= 5.13)";
    return "";
  }
  if (mode == "kprobe") {
    if (!KprobesAvailable()) return "kprobes are not available (CONFIG_KPROBES off?)";
    if (btf && !HasBtf(btf, target, BTF_KIND_FUNC)) return "no kernel function " + target;
    return "";
  }
  return "unknown mode " + mode;
}

}  // namespace

const std::vector<HookSpec>& Hooks() {
  static const std::vector<HookSpec> kHooks = {
      // Kernel accounting: the live connections' counters, read at each scrape. First, so that
      // a kernel without it falls back to per-event accounting before the hooks are picked.
      {"socket counters",
       {{"scrape", {{"nl_socket_counters_run", "tcp_conns", false}}}},
       false,
       "kernel"},
      // Per-event accounting: the same program, for its check of entries that outlived their
      // socket (ebpf/tcp/hooks_scrape.bpf.h); without it such an entry waits for its memory to
      // be reused.
      {"stale entries",
       {{"scrape", {{"nl_socket_counters_run", "tcp_conns", false}}}},
       true,
       "events"},
      {"send/receive",
       {{"tp_btf",
         {{"nl_send_tp_btf", "sock:sock_send_length", false},
          {"nl_recv_tp_btf", "sock:sock_recv_length", false}}},
        {"tracepoint",
         {{"nl_send_tp", "sock:sock_send_length", false},
          {"nl_recv_tp", "sock:sock_recv_length", false}}},
        {"fentry",
         {{"nl_sendmsg_fexit", "tcp_sendmsg", false},
          {"nl_sendpage_fexit", "tcp_sendpage", true},
          {"nl_recvmsg_fentry", "tcp_recvmsg", false},
          {"nl_recvmsg_fexit", "tcp_recvmsg", false},
          {"nl_cleanup_rbuf_fentry", "tcp_cleanup_rbuf", false}}},
        {"kprobe",
         {{"nl_sendmsg_kprobe", "tcp_sendmsg", false},
          {"nl_sendmsg_kretprobe", "tcp_sendmsg", false},
          {"nl_sendpage_kprobe", "tcp_sendpage", true},
          {"nl_sendpage_kretprobe", "tcp_sendpage", true},
          {"nl_recvmsg_kprobe", "tcp_recvmsg", false},
          {"nl_recvmsg_kretprobe", "tcp_recvmsg", false},
          {"nl_cleanup_rbuf_kprobe", "tcp_cleanup_rbuf", false}}}},
       false,
       "events"},
      // tcp_destroy_sock closes what a missed CLOSE run left (it runs right after that CLOSE, in
      // the same context; a program of its own, so the run that made the kernel skip the CLOSE
      // run does not make it skip this one), with the socket's final counters. Without it,
      // kernel accounting folds such an entry at the next scrape (nl_socket_is_conn) with the
      // counters of its close(): the hour-long soak lost 1,500 of 3.4e9 bytes that way.
      // nl_state_nested_tp_btf takes the transitions the kernel skips in nl_state_tp_btf because
      // they nest into its own run (ebpf/tcp/hooks_tracepoint.bpf.h).
      {"lifecycle",
       {{"tp_btf",
         {{"nl_state_tp_btf", "sock:inet_sock_set_state", false},
          {"nl_state_nested_tp_btf", "sock:inet_sock_set_state", false},
          {"nl_destroy_tp_btf", "tcp:tcp_destroy_sock", true}}},
        {"tracepoint",
         {{"nl_state_tp", "sock:inet_sock_set_state", false},
          {"nl_destroy_tp", "tcp:tcp_destroy_sock", true}}}}},
      {"retransmit",
       {{"tracepoint", {{"nl_retransmit_tp", "tcp:tcp_retransmit_skb", false}}}},
       false,
       "events"},
      // Kernel accounting: the connections open before netlens started, found once after the
      // lifecycle programs are attached (ebpf/tcp/adopt.bpf.h). Without it they are not counted.
      {"open sockets", {{"iter", {{"nl_adopt_iter", "task_file", false}}}}, true, "kernel"},
      // Accept latency only: a kernel without syscall tracepoints
      // (CONFIG_FTRACE_SYSCALLS) still counts everything else.
      {"accept",
       {{"tracepoint",
         {{"nl_accept4_exit_tp", "syscalls:sys_exit_accept4", false},
          {"nl_accept_exit_tp", "syscalls:sys_exit_accept", true}}}},
       true},
  };
  return kHooks;
}

std::string PrecheckMode(const ModeSpec& mode, const struct btf* kernel_btf,
                         std::vector<ProgramSpec>& usable) {
  usable.clear();
  for (const ProgramSpec& program : mode.programs) {
    const std::string why = PrecheckProgram(mode.mode, program, kernel_btf);
    if (why.empty()) {
      usable.push_back(program);
    } else if (!program.optional) {
      return why;
    }
  }
  return "";
}

unsigned RecvmsgFlagsArg(const struct btf* kernel_btf) {
  if (!kernel_btf) return 3;
  const int id = btf__find_by_name_kind(kernel_btf, "tcp_recvmsg", BTF_KIND_FUNC);
  if (id < 0) return 3;
  const struct btf_type* func = btf__type_by_id(kernel_btf, id);
  const struct btf_type* proto = btf__type_by_id(kernel_btf, func->type);
  return btf_vlen(proto) >= 6 ? 4 : 3;  // (sk, msg, len, [nonblock,] flags, addr_len)
}

}  // namespace netlens
