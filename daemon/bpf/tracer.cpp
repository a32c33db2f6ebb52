#include "bpf/tracer.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/capability.h>
#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <vector>

#include "bpf/attach_modes.h"
#include "ebpf/tcp/tcp.h"
#include "netlens_bpf.skel.h"

namespace netlens {
namespace {

constexpr const char* kKernelBtf = "/sys/kernel/btf/vmlinux";

// libbpf's messages go to the log; warnings are also kept so that a failed
// load can show the verifier's reasoning in the error itself.
std::mutex g_libbpf_log_mutex;
std::deque<std::string> g_libbpf_warnings;

int LibbpfPrint(enum libbpf_print_level level, const char* format, va_list args) {
  va_list measure;
  va_copy(measure, args);
  const int size = vsnprintf(nullptr, 0, format, measure);
  va_end(measure);
  std::string text(size > 0 ? size : 0, '\0');
  vsnprintf(text.data(), text.size() + 1, format, args);  // verifier logs can be long
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

// Opens the object with only `programs` set to load. Trials shrink the maps:
// they only need to prove the programs load and attach.
netlens_bpf* OpenWith(const std::vector<ProgramSpec>& programs,
                      const std::optional<std::string>& btf_path, unsigned recvmsg_flags_arg,
                      bool kernel_accounting, const Limits* limits) {
  LIBBPF_OPTS(bpf_object_open_opts, open_opts);
  // Naming the kernel's own BTF keeps libbpf from listing kernel modules' BTF
  // for CO-RE, which needs CAP_SYS_ADMIN (libbpf 1.1 treats the refusal as fatal).
  open_opts.btf_custom_path = btf_path ? btf_path->c_str() : kKernelBtf;
  netlens_bpf* skel = netlens_bpf__open_opts(&open_opts);
  if (!skel) ThrowLoadError("opening the eBPF object failed", -errno);
  bpf_program* prog;
  bpf_object__for_each_program(prog, skel->obj) bpf_program__set_autoload(prog, false);
  for (const ProgramSpec& spec : programs) {
    bpf_program__set_autoload(bpf_object__find_program_by_name(skel->obj, spec.program), true);
  }
  skel->rodata->nl_recvmsg_flags_arg = recvmsg_flags_arg;
  skel->rodata->nl_kernel_accounting = kernel_accounting ? 1 : 0;
  skel->rodata->nl_live_slots = limits ? limits->connections : 1;
  if (limits) {
    bpf_map__set_max_entries(skel->maps.tcp_conns, limits->connections);
    bpf_map__set_max_entries(skel->maps.tcp_live, limits->connections);
    bpf_map__set_max_entries(skel->maps.tcp_totals, limits->aggregates);
    bpf_map__set_max_entries(skel->maps.tcp_closed, limits->closed_connections);
    bpf_map__set_max_entries(skel->maps.tcp_listeners, limits->listeners);
    bpf_map__set_max_entries(skel->maps.tcp_latency, limits->aggregates);
    bpf_map__set_max_entries(skel->maps.tgt_ignored, limits->connections);
    bpf_map__set_max_entries(skel->maps.tgt_listeners, limits->listeners);
    bpf_map__set_max_entries(skel->maps.tgt_procs, limits->target_processes);
    bpf_map__set_max_entries(skel->maps.tgt_cgroups, limits->target_cgroups);
    bpf_map__set_max_entries(skel->maps.proc_cgroups, limits->processes);
  } else {
    bpf_map* map;
    bpf_object__for_each_map(map, skel->obj) {
      if (bpf_map__type(map) == BPF_MAP_TYPE_HASH || bpf_map__type(map) == BPF_MAP_TYPE_LRU_HASH ||
          map == skel->maps.tcp_live)
        bpf_map__set_max_entries(map, 1);
    }
  }
  return skel;
}

// Attaches one program and hands its link to the skeleton, which destroys it.
int AttachProgram(netlens_bpf* skel, const char* name) {
  bpf_program* prog = bpf_object__find_program_by_name(skel->obj, name);
  if (std::string_view(bpf_program__section_name(prog)) == "raw_tp") {
    // Attached to nothing: the daemon runs it (Tracer::ReadSocketCounters). Attaching is
    // proving that it runs.
    LIBBPF_OPTS(bpf_test_run_opts, run);
    return bpf_prog_test_run_opts(bpf_program__fd(prog), &run) == 0 ? 0 : -errno;
  }
  bpf_link* link = std::string_view(bpf_program__section_name(prog)).starts_with("iter/")
                       ? bpf_program__attach_iter(prog, nullptr)  // run by Tracer::Attach
                       : bpf_program__attach(prog);
  if (!link) return -errno;
  for (int i = 0; i < skel->skeleton->prog_cnt; ++i) {
    if (*skel->skeleton->progs[i].prog == prog) *skel->skeleton->progs[i].link = link;
  }
  return 0;
}

// libbpf's own reason for a failed load, in one line: the program's load
// error if there is one, else its last message.
std::string LibbpfReason() {
  std::string all = TakeLibbpfWarnings();
  std::vector<std::string> lines;
  for (size_t start = 0; start < all.size();) {
    size_t end = all.find('\n', start);
    if (end == std::string::npos) end = all.size();
    std::string line = all.substr(start, end - start);
    line.erase(0, line.find_first_not_of(' '));
    if (line.rfind("libbpf: ", 0) == 0) line.erase(0, 8);
    if (!line.empty()) lines.push_back(line);
    start = end + 1;
  }
  for (const auto& line : lines) {
    if (line.find("program load failed") != std::string::npos) return line;
  }
  return lines.empty() ? "" : lines.back();
}

// Loads and attaches `programs` in a throw-away object: "" if it works.
std::string TrialLoad(const std::vector<ProgramSpec>& programs,
                      const std::optional<std::string>& btf_path, unsigned recvmsg_flags_arg) {
  TakeLibbpfWarnings();
  netlens_bpf* skel = OpenWith(programs, btf_path, recvmsg_flags_arg, true, nullptr);
  std::string why;
  if (int err = netlens_bpf__load(skel); err != 0) {
    why = std::string("load failed: ") + std::strerror(-err);
  } else {
    for (const ProgramSpec& spec : programs) {
      if (int err = AttachProgram(skel, spec.program); err != 0) {
        why = std::string("attaching ") + spec.program + " failed: " + std::strerror(-err);
        break;
      }
    }
  }
  netlens_bpf__destroy(skel);
  if (!why.empty()) {
    const std::string detail = LibbpfReason();
    if (!detail.empty()) why += " (libbpf: " + detail + ")";
  }
  return why;
}

}  // namespace

std::unique_ptr<Tracer> Tracer::Load(const Limits& limits,
                                     const std::optional<std::string>& btf_path,
                                     const std::string& attach_mode,
                                     const std::string& accounting) {
  libbpf_set_print(LibbpfPrint);
  CheckPrivileges();
  CheckBtf(btf_path);
  struct btf* kernel_btf =
      btf_path ? btf__parse(btf_path->c_str(), nullptr) : btf__load_vmlinux_btf();
  if (!kernel_btf) ThrowLoadError("reading kernel BTF failed", -errno);
  const unsigned flags_arg = RecvmsgFlagsArg(kernel_btf);

  std::unique_ptr<Tracer> tracer(new Tracer());
  tracer->accounting_ = accounting;
  std::vector<ProgramSpec> chosen_programs;
  std::vector<std::pair<HookChoice, std::vector<ProgramSpec>>> chosen;
  for (const HookSpec& hook : Hooks()) {
    if (hook.accounting && tracer->accounting_ != hook.accounting) continue;
    const bool forced = attach_mode != "auto" &&
                        std::any_of(hook.modes.begin(), hook.modes.end(),
                                    [&](const ModeSpec& m) { return attach_mode == m.mode; });
    std::string passed_over;
    bool found = false;
    for (const ModeSpec& mode : hook.modes) {
      if (forced && attach_mode != mode.mode) continue;
      ModeSpec wanted{mode.mode, {}};
      for (const ProgramSpec& program : mode.programs) {
        if (!program.accounting || tracer->accounting_ == program.accounting)
          wanted.programs.push_back(program);
      }
      std::vector<ProgramSpec> usable;
      std::string why = PrecheckMode(wanted, kernel_btf, usable);
      if (why.empty()) why = TrialLoad(usable, btf_path, flags_arg);
      if (!why.empty()) {
        spdlog::debug("{}: {} unavailable: {}", hook.hook, mode.mode, why);
        passed_over += (passed_over.empty() ? "" : "; ") + std::string(mode.mode) + ": " + why;
        continue;
      }
      const std::string reason = forced                ? "forced"
                                 : passed_over.empty() ? "preferred"
                                                       : "fallback; " + passed_over;
      chosen.push_back({{hook.hook, mode.mode, reason}, usable});
      found = true;
      break;
    }
    if (!found && !hook.optional && hook.accounting &&
        std::string_view(hook.accounting) == "kernel") {
      // Socket counters are the kernel accounting: without them, count per event.
      spdlog::warn("{}: unavailable, counting per send/receive instead (accounting: events): {}",
                   hook.hook, passed_over);
      tracer->hooks_.push_back(
          {hook.hook, "none", "unavailable, accounting: events instead; " + passed_over});
      tracer->accounting_ = "events";
      continue;
    }
    if (!found && hook.optional) {
      spdlog::warn("{}: no attach mode works, its metrics stay empty: {}", hook.hook, passed_over);
      tracer->hooks_.push_back({hook.hook, "none", "unavailable; " + passed_over});
      continue;
    }
    if (!found && forced)
      throw TracerError("--attach-mode " + attach_mode + " cannot serve " + hook.hook +
                        " on this kernel: " + passed_over);
    if (!found)
      throw TracerError(std::string("no attach mode works for ") + hook.hook +
                        " on this kernel: " + passed_over + " (see docs/kernels.md)");
  }
  btf__free(kernel_btf);

  for (const auto& [choice, programs] : chosen)
    chosen_programs.insert(chosen_programs.end(), programs.begin(), programs.end());
  TakeLibbpfWarnings();
  tracer->skel_ =
      OpenWith(chosen_programs, btf_path, flags_arg, tracer->accounting_ == "kernel", &limits);
  netlens_bpf* skel = tracer->skel_;
  if (int err = netlens_bpf__load(skel); err != 0)
    ThrowLoadError("loading the eBPF programs failed (verifier or kernel support)", err);

  // The key that takes folds when tcp_totals is full must always have its slot.
  nl_agg_key overflow{};
  overflow.direction = NL_DIR_OVERFLOW;
  nl_agg_value zero{};
  if (bpf_map_update_elem(bpf_map__fd(skel->maps.tcp_totals), &overflow, &zero, BPF_NOEXIST) != 0)
    ThrowLoadError("initialising the tcp_totals map failed", -errno);
  for (uint32_t kind = 0; kind < NL_HIST_KINDS; ++kind) {
    nl_hist_key key{};
    key.agg.direction = NL_DIR_OVERFLOW;
    key.kind = kind;
    nl_hist empty{};
    if (bpf_map_update_elem(bpf_map__fd(skel->maps.tcp_latency), &key, &empty, BPF_NOEXIST) != 0)
      ThrowLoadError("initialising the tcp_latency map failed", -errno);
  }

  BpfMaps& maps = tracer->maps_;
  const auto info = [](const bpf_map* map) {
    return MapInfo{bpf_map__name(map), bpf_map__fd(map), bpf_map__max_entries(map)};
  };
#define NL_MAP(name) maps.name = info(skel->maps.name)
  NL_MAP(tcp_conns);
  NL_MAP(tcp_totals);
  NL_MAP(tcp_closed);
  NL_MAP(tcp_listeners);
  NL_MAP(tcp_latency);
  NL_MAP(tcp_stats);
  NL_MAP(tcp_transitions);
  NL_MAP(tcp_settings);
  NL_MAP(tcp_calls);
  NL_MAP(tcp_live);
  NL_MAP(proc_cgroups);
  NL_MAP(tgt_settings);
  NL_MAP(tgt_pids);
  NL_MAP(tgt_comms);
  NL_MAP(tgt_cgroups);
  NL_MAP(tgt_procs);
  NL_MAP(tgt_events);
  NL_MAP(tgt_listeners);
  NL_MAP(tgt_ignored);
  NL_MAP(tgt_ports);
  NL_MAP(tgt_cidrs);
  NL_MAP(tgt_stats);
#undef NL_MAP

  tracer->chosen_ = std::move(chosen);
  TakeLibbpfWarnings();
  return tracer;
}

void Tracer::Attach() {
  for (const auto& [choice, programs] : chosen_) {
    for (const ProgramSpec& spec : programs) {
      if (int err = AttachProgram(skel_, spec.program); err != 0)
        ThrowLoadError(std::string("attaching ") + spec.program + " to " + spec.target, err);
      programs_.push_back({spec.program, spec.target, choice.mode, true});
    }
    spdlog::info("{}: {} ({})", choice.hook, choice.mode, choice.reason);
    hooks_.push_back(choice);
  }
  chosen_.clear();
  AdoptOpenConnections();
  TakeLibbpfWarnings();
}

Tracer::~Tracer() {
  if (skel_) netlens_bpf__destroy(skel_);
}

void Tracer::Detach() {
  netlens_bpf__detach(skel_);
  for (auto& program : programs_) program.attached = false;
}

ProgramCounters Tracer::counters(const std::string& program) const {
  const bpf_program* prog = bpf_object__find_program_by_name(skel_->obj, program.c_str());
  bpf_prog_info info{};
  uint32_t length = sizeof(info);
  if (!prog || bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &length) != 0) return {};
  return {info.run_cnt, info.run_time_ns, info.recursion_misses};
}

void Tracer::AdoptOpenConnections() {
  if (!skel_->links.nl_adopt_iter) return;
  const int fd = bpf_iter_create(bpf_link__fd(skel_->links.nl_adopt_iter));
  if (fd < 0) {
    spdlog::warn("finding the connections open before start failed: {}; they are not counted",
                 std::strerror(errno));
    return;
  }
  // The program writes into tcp_conns, not to the file: reading to the end runs it over every
  // task's files (each read() returns after a page of output, or at the end: loop until 0).
  char buffer[256];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) {
  }
  if (n < 0)
    spdlog::warn("finding the connections open before start failed: {}", std::strerror(errno));
  close(fd);
}

std::optional<uint32_t> Tracer::ReadSocketCounters() {
  // Per-event accounting loads it for the stale-entry check only ("stale entries"), if at all.
  const int fd = bpf_program__fd(skel_->progs.nl_socket_counters_run);
  if (fd < 0) return std::nullopt;
  LIBBPF_OPTS(bpf_test_run_opts, run);
  if (bpf_prog_test_run_opts(fd, &run) != 0) {
    spdlog::warn("reading the socket counters failed: {}", std::strerror(errno));
    return std::nullopt;
  }
  if (accounting_ != "kernel") return std::nullopt;
  return run.retval;
}

void Tracer::SetKeepClosed(bool keep) {
  const uint32_t zero = 0;
  nl_settings settings{};
  settings.keep_closed = keep ? 1 : 0;
  bpf_map_update_elem(bpf_map__fd(skel_->maps.tcp_settings), &zero, &settings, BPF_ANY);
}

}  // namespace netlens
