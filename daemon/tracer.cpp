#include "tracer.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/capability.h>
#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>

#include "netlens.h"
#include "netlens_bpf.skel.h"

namespace netlens {
namespace {

constexpr const char* kKernelBtf = "/sys/kernel/btf/vmlinux";

struct HookInfo {
  const char* program;
  const char* hook;
  const char* mode;
};
constexpr HookInfo kHooks[] = {
    {"nl_send_tp_btf", "sock:sock_send_length", "tp_btf"},
    {"nl_recv_tp_btf", "sock:sock_recv_length", "tp_btf"},
    {"nl_state_tp_btf", "sock:inet_sock_set_state", "tp_btf"},
    {"nl_retransmit_tp", "tcp:tcp_retransmit_skb", "tracepoint"},
};

// libbpf's messages go to the log; warnings are also kept so that a failed
// load can show the verifier's reasoning in the error itself.
std::mutex g_libbpf_log_mutex;
std::deque<std::string> g_libbpf_warnings;

int LibbpfPrint(enum libbpf_print_level level, const char* format, va_list args) {
  char line[4096];
  vsnprintf(line, sizeof(line), format, args);
  std::string text(line);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  if (level == LIBBPF_DEBUG) {
    spdlog::trace("libbpf: {}", text);
    return 0;
  }
  spdlog::debug("libbpf: {}", text);
  std::lock_guard lock(g_libbpf_log_mutex);
  g_libbpf_warnings.push_back(text);
  if (g_libbpf_warnings.size() > 400) g_libbpf_warnings.pop_front();
  return 0;
}

std::string TakeLibbpfWarnings() {
  std::lock_guard lock(g_libbpf_log_mutex);
  std::string all;
  for (const auto& line : g_libbpf_warnings) all += "\n  " + line;
  g_libbpf_warnings.clear();
  return all;
}

bool HasCapability(int cap) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  return data[cap / 32].effective & (1u << (cap % 32));
}

void CheckPrivileges() {
  constexpr int kCapPerfmon = 38, kCapBpf = 39;
  if (HasCapability(CAP_SYS_ADMIN) || (HasCapability(kCapBpf) && HasCapability(kCapPerfmon)))
    return;
  throw TracerError(
      "netlens needs root or the capabilities CAP_BPF and CAP_PERFMON (plus CAP_SYS_RESOURCE on "
      "kernels before 5.11) to load eBPF programs: run it as root, or grant them, e.g. "
      "`setcap cap_bpf,cap_perfmon,cap_sys_resource+ep /usr/sbin/netlens`");
}

void CheckBtf(const std::optional<std::string>& btf_path) {
  if (btf_path) {
    if (!std::filesystem::exists(*btf_path))
      throw TracerError("--btf " + *btf_path + ": no such file");
    return;
  }
  if (!std::filesystem::exists(kKernelBtf))
    throw TracerError(std::string("this kernel has no BTF at ") + kKernelBtf +
                      " (it needs CONFIG_DEBUG_INFO_BTF=y): pass --btf PATH with a BTF file "
                      "for this exact kernel (for example from btfhub)");
}

[[noreturn]] void ThrowLoadError(const std::string& what, int err) {
  std::string message = what + ": " + std::strerror(-err);
  if (err == -EPERM || err == -EACCES)
    message += " (missing privileges? netlens needs root or CAP_BPF+CAP_PERFMON)";
  const std::string log = TakeLibbpfWarnings();
  if (!log.empty()) message += "\nlibbpf said:" + log;
  throw TracerError(message);
}

}  // namespace

std::unique_ptr<Tracer> Tracer::Start(const Limits& limits,
                                      const std::optional<std::string>& btf_path) {
  libbpf_set_print(LibbpfPrint);
  CheckPrivileges();
  CheckBtf(btf_path);

  std::unique_ptr<Tracer> tracer(new Tracer());
  LIBBPF_OPTS(bpf_object_open_opts, open_opts);
  if (btf_path) open_opts.btf_custom_path = btf_path->c_str();
  tracer->skel_ = netlens_bpf__open_opts(&open_opts);
  if (!tracer->skel_) ThrowLoadError("opening the eBPF object failed", -errno);

  netlens_bpf* skel = tracer->skel_;
  bpf_map__set_max_entries(skel->maps.conns, limits.connections);
  bpf_map__set_max_entries(skel->maps.totals, limits.aggregates);
  bpf_map__set_max_entries(skel->maps.closed, limits.closed_connections);
  bpf_map__set_max_entries(skel->maps.listeners, limits.listeners);

  if (int err = netlens_bpf__load(skel); err != 0)
    ThrowLoadError("loading the eBPF programs failed (verifier or kernel support)", err);

  // The key that takes folds when totals is full must always have its slot.
  nl_agg_key overflow{};
  overflow.direction = NL_DIR_OVERFLOW;
  nl_agg_value zero{};
  if (bpf_map_update_elem(bpf_map__fd(skel->maps.totals), &overflow, &zero, BPF_NOEXIST) != 0)
    ThrowLoadError("initialising the totals map failed", -errno);

  for (const HookInfo& hook : kHooks) {
    bpf_program* prog = bpf_object__find_program_by_name(skel->obj, hook.program);
    ProgramStatus status{hook.program, hook.hook, hook.mode, false};
    if (!prog) ThrowLoadError(std::string("program ") + hook.program + " missing", -ENOENT);
    bpf_link* link = bpf_program__attach(prog);
    if (!link)
      ThrowLoadError(std::string("attaching ") + hook.program + " to " + hook.hook, -errno);
    // The skeleton destroys links it knows of; keep ours with the program.
    for (int i = 0; i < skel->skeleton->prog_cnt; ++i) {
      if (*skel->skeleton->progs[i].prog == prog) *skel->skeleton->progs[i].link = link;
    }
    status.attached = true;
    spdlog::info("attached {} to {} ({})", hook.program, hook.hook, hook.mode);
    tracer->programs_.push_back(status);
  }
  TakeLibbpfWarnings();
  return tracer;
}

Tracer::~Tracer() {
  if (skel_) netlens_bpf__destroy(skel_);
}

void Tracer::Detach() {
  netlens_bpf__detach(skel_);
  for (auto& program : programs_) program.attached = false;
}

MapInfo Tracer::map(const std::string& name) const {
  bpf_map* m = bpf_object__find_map_by_name(skel_->obj, name.c_str());
  if (!m) return {name, -1, 0};
  return {name, bpf_map__fd(m), bpf_map__max_entries(m)};
}

void Tracer::SetKeepClosed(bool keep) {
  const uint32_t zero = 0;
  nl_settings settings{};
  settings.keep_closed = keep ? 1 : 0;
  bpf_map_update_elem(bpf_map__fd(skel_->maps.settings), &zero, &settings, BPF_ANY);
}

}  // namespace netlens
