#include "http/capture.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>
#include <sys/utsname.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <vector>

#include "bpf/libbpf_errors.h"
#include "bpf/percpu_counters.h"
#include "bpf/uprobe_multi.h"
#include "ebpf/http/capture.h"
#include "http/tls_probes.h"
#include "http_capture_bpf.skel.h"

namespace netlens::http {
namespace {

constexpr const char* kKernelBtf = "/sys/kernel/btf/vmlinux";
constexpr size_t kVerifierLogBytes = 1 << 20;

std::string KernelRelease() {
  utsname name{};
  return uname(&name) == 0 ? name.release : "unknown";
}

// The syscalls whose exits the syscall hooks take (ebpf/http/capture.bpf.c, NL_HTTP_SYSCALL).
constexpr std::array<const char*, 9> kSyscalls = {
    "read", "readv", "recvfrom", "recvmsg", "write", "writev", "sendto", "sendmsg", "sendfile64"};

bool SyscallTracepointExists(const std::string& syscall) {
  for (const char* root : {"/sys/kernel/tracing/events/syscalls/sys_exit_",
                           "/sys/kernel/debug/tracing/events/syscalls/sys_exit_"}) {
    if (std::filesystem::exists(root + syscall)) return true;
  }
  return false;
}

// Why the syscall hooks cannot attach here, or "".
std::string SyscallHooksMissing() {
  if (!std::filesystem::exists("/sys/kernel/tracing/events") &&
      !std::filesystem::exists("/sys/kernel/debug/tracing/events"))
    return "tracefs is not mounted (mount -t tracefs tracefs /sys/kernel/tracing; systemd mounts "
           "it at boot)";
  for (const char* syscall : kSyscalls) {
    if (!SyscallTracepointExists(syscall))
      return std::string("tracefs has no syscalls:sys_exit_") + syscall +
             " (a kernel with CONFIG_FTRACE_SYSCALLS=y)";
  }
  return "";
}

// The hooks to use on this kernel: `wanted`, or for auto the sock length tracepoints where the
// kernel has them, else the syscall tracepoints. With tls, uprobe_multi links are needed too.
CaptureHooks CheckKernel(const std::optional<std::string>& btf_path, bool tls,
                         CaptureHooks wanted) {
#if !defined(__x86_64__)
  throw CaptureError(
      "HTTP capture reads the user buffer from the syscall's registers, which is implemented "
      "for x86-64 only (ebpf/http/capture.bpf.c, nl_http_user_buffer)");
#endif
  const std::string path = btf_path.value_or(kKernelBtf);
  if (!std::filesystem::exists(path))
    throw CaptureError("HTTP capture needs the kernel's BTF (" + path +
                       "): a kernel with CONFIG_DEBUG_INFO_BTF=y, or --btf PATH");
  btf* kernel = btf__parse(path.c_str(), nullptr);
  if (!kernel)
    throw CaptureError("reading kernel BTF " + path + " failed: " + std::strerror(errno));
  const auto has_tracepoint = [&](const std::string& tracepoint) {
    return btf__find_by_name_kind(kernel, ("btf_trace_" + tracepoint).c_str(), BTF_KIND_TYPEDEF) >=
           0;
  };
  const bool sock_length = has_tracepoint("sock_send_length") && has_tracepoint("sock_recv_length");
  const bool state = has_tracepoint("inet_sock_set_state");
  const bool uprobe_multi =
      btf__find_by_name_kind(kernel, "bpf_uprobe_multi_link", BTF_KIND_STRUCT) >= 0;
  btf__free(kernel);
  const std::string running = "its BTF, " + path + "; running kernel " + KernelRelease();
  if (!state)
    throw CaptureError(
        "HTTP capture needs the BTF tracepoint sock:inet_sock_set_state (Linux >= 5.5 with "
        "BTF), which this kernel does not have (" +
        running + ")");
  CaptureHooks hooks = wanted;
  if (hooks == CaptureHooks::kAuto)
    hooks = sock_length ? CaptureHooks::kSockTracepoints : CaptureHooks::kSyscallTracepoints;
  if (hooks == CaptureHooks::kSockTracepoints && !sock_length)
    throw CaptureError(
        "HTTP capture hooks sock_length need the tracepoints sock:sock_send_length and "
        "sock:sock_recv_length (Linux 6.3), which this kernel does not have (" +
        running + "): set http_requests.capture_hooks to auto or syscalls");
  if (hooks == CaptureHooks::kSyscallTracepoints) {
    const std::string missing = SyscallHooksMissing();
    if (!missing.empty())
      throw CaptureError(
          std::string("HTTP capture") +
          (sock_length ? " hooks syscalls need" : " needs, on a kernel before 6.3,") +
          " the syscall exit tracepoints: " + missing);
  }
  if (tls && !uprobe_multi)
    throw CaptureError(
        "HTTP capture of TLS needs uprobe_multi links (Linux 6.6), which this kernel does not "
        "have (" +
        running + ", has no struct bpf_uprobe_multi_link): run a kernel >= 6.6 or leave tls off");
  return hooks;
}

[[noreturn]] void ThrowLibbpf(const std::string& what, int err, const std::string& log) {
  throw CaptureError(LibbpfFailure(what, err, log));
}

// http_pids: tgid -> when the kernel added it (0: the daemon did).
std::map<uint32_t, uint64_t> ReadWatched(int fd) {
  std::map<uint32_t, uint64_t> watched;
  uint32_t key = 0, next = 0;
  const void* previous = nullptr;
  while (bpf_map_get_next_key(fd, previous, &next) == 0) {
    uint64_t since = 0;
    if (bpf_map_lookup_elem(fd, &next, &since) == 0) watched[next] = since;
    key = next;
    previous = &key;
  }
  return watched;
}

uint32_t RoundUpPowerOfTwo(uint32_t value) {
  uint32_t result = 4096;
  while (result < value && result < (1u << 31)) result <<= 1;
  return result;
}

}  // namespace

const char* CaptureHooksName(CaptureHooks hooks) {
  switch (hooks) {
    case CaptureHooks::kSockTracepoints:
      return "sock_length";
    case CaptureHooks::kSyscallTracepoints:
      return "syscalls";
    case CaptureHooks::kAuto:
      break;
  }
  return "auto";
}

std::unique_ptr<Capture> Capture::Load(const CaptureOptions& options, SegmentCallback on_segment,
                                       CloseCallback on_close) {
  if (options.capture_bytes == 0 || options.capture_bytes > NL_HTTP_CAPTURE_MAX)
    throw CaptureError("HTTP capture: capture_bytes must be 1.." +
                       std::to_string(NL_HTTP_CAPTURE_MAX));
  const CaptureHooks hooks = CheckKernel(options.btf_path, options.tls, options.hooks);

  std::string log(kVerifierLogBytes, '\0');
  LIBBPF_OPTS(bpf_object_open_opts, open_opts);
  // The kernel's own BTF, named: libbpf then does not list modules' BTF (CAP_SYS_ADMIN).
  open_opts.btf_custom_path = options.btf_path ? options.btf_path->c_str() : kKernelBtf;
  // Level 0: the kernel writes a log only when a program fails (libbpf retries with level 1).
  open_opts.kernel_log_buf = log.data();
  open_opts.kernel_log_size = log.size();
  open_opts.kernel_log_level = 0;
  std::unique_ptr<Capture> capture(new Capture());
  capture->on_segment_ = std::move(on_segment);
  capture->on_close_ = std::move(on_close);
  capture->hooks_ = hooks;
  capture->skel_ = http_capture_bpf__open_opts(&open_opts);
  if (!capture->skel_) ThrowLibbpf("opening the HTTP capture eBPF object failed", -errno, "");
  http_capture_bpf* skel = capture->skel_;
  skel->rodata->nl_http_capture_bytes = options.capture_bytes;
  bpf_map__set_max_entries(skel->maps.http_events, RoundUpPowerOfTwo(options.ring_bytes));
  bpf_map__set_max_entries(skel->maps.http_conns, options.connections);
  bpf_map__set_max_entries(skel->maps.http_pids, options.processes);
  bpf_map__set_max_entries(skel->maps.http_proc_stats, options.processes);
  bpf_map__set_max_entries(skel->maps.ssl_conns, options.connections);
  skel->rodata->nl_http_tls = options.tls;
  skel->rodata->nl_http_mysql = options.mysql;
  capture->mysql_ = options.mysql;
  skel->rodata->nl_http_http2 = options.http2;
  capture->http2_ = options.http2;
  // The uprobes are attached per process by TlsProbes, as uprobe_multi links; without tls,
  // not loaded.
  for (bpf_program* prog :
       {skel->progs.nl_tls_enter, skel->progs.nl_tls_return, skel->progs.nl_tls_free}) {
    bpf_program__set_autoattach(prog, false);
    bpf_program__set_autoload(prog, options.tls);
    bpf_program__set_expected_attach_type(prog, static_cast<bpf_attach_type>(kAttachUprobeMulti));
  }
  // One set of send/receive hooks is loaded; the other's programs are left out.
  const bool syscalls = hooks == CaptureHooks::kSyscallTracepoints;
  bpf_program__set_autoload(skel->progs.nl_http_send, !syscalls);
  bpf_program__set_autoload(skel->progs.nl_http_recv, !syscalls);
  bpf_program__set_autoload(skel->progs.nl_http_sys_exit, syscalls);
  bpf_program__set_autoattach(skel->progs.nl_http_sys_exit, false);  // to each syscall, below
  if (int err = http_capture_bpf__load(skel); err != 0)
    ThrowLibbpf("loading the HTTP capture eBPF programs failed (verifier or kernel support)", err,
                log);
  if (int err = http_capture_bpf__attach(skel); err != 0)
    ThrowLibbpf(std::string("attaching the HTTP capture programs to ") +
                    (syscalls ? "syscalls:sys_exit_{read,write,readv,writev,recvfrom,sendto,"
                                "recvmsg,sendmsg,sendfile64}"
                              : "sock:sock_send_length, sock:sock_recv_length") +
                    ", sock:inet_sock_set_state and sched:sched_process_{fork,exec,exit} failed",
                err, "");
  if (syscalls) {
    for (const char* syscall : kSyscalls) {
      bpf_link* link = bpf_program__attach_tracepoint(skel->progs.nl_http_sys_exit, "syscalls",
                                                      (std::string("sys_exit_") + syscall).c_str());
      if (!link)
        ThrowLibbpf(
            std::string("attaching the HTTP capture to syscalls:sys_exit_") + syscall + " failed",
            -errno, "");
      capture->syscall_links_.push_back(link);
    }
  }
  capture->ring_ = ring_buffer__new(bpf_map__fd(skel->maps.http_events), &Capture::OnRecord,
                                    capture.get(), nullptr);
  if (!capture->ring_) ThrowLibbpf("opening the HTTP capture ring buffer failed", -errno, "");
  if (options.tls)
    capture->tls_ = std::make_unique<TlsProbes>(TlsProbes::Programs{
        .enter = bpf_program__fd(skel->progs.nl_tls_enter),
        .ret = bpf_program__fd(skel->progs.nl_tls_return),
        .free = bpf_program__fd(skel->progs.nl_tls_free),
    });
  return capture;
}

Capture::Capture() = default;

Capture::~Capture() {
  StopDraining();
  for (bpf_link* link : syscall_links_) bpf_link__destroy(link);
  if (ring_) ring_buffer__free(ring_);
  if (skel_) http_capture_bpf__destroy(skel_);
}

void Capture::SetWatchedProcesses(const std::set<uint32_t>& tgids, uint64_t judged_at_ns) {
  std::lock_guard lock(watched_mutex_);
  const int fd = bpf_map__fd(skel_->maps.http_pids);
  for (const auto& [pid, since] : ReadWatched(fd)) {
    if (!tgids.count(pid) && since <= judged_at_ns) bpf_map_delete_elem(fd, &pid);
  }
  const uint64_t by_daemon = 0;
  for (uint32_t pid : tgids) {
    if (bpf_map_update_elem(fd, &pid, &by_daemon, BPF_ANY) != 0) {
      throw CaptureError("watching process " + std::to_string(pid) +
                         " for HTTP failed: " + std::strerror(errno) + " (at most " +
                         std::to_string(bpf_map__max_entries(skel_->maps.http_pids)) +
                         " processes)");
    }
  }
  if (tls_) AttachTls(tgids);
}

std::map<uint32_t, uint64_t> Capture::Watched() const {
  return ReadWatched(bpf_map__fd(skel_->maps.http_pids));
}

void Capture::SetWatchedComms(const std::set<std::string>& comms) {
  std::lock_guard lock(watched_mutex_);
  const int fd = bpf_map__fd(skel_->maps.http_comms);
  std::vector<std::array<char, NL_COMM_LEN>> old;
  std::array<char, NL_COMM_LEN> key{}, next{};
  const void* previous = nullptr;
  while (bpf_map_get_next_key(fd, previous, next.data()) == 0) {
    old.push_back(next);
    key = next;
    previous = key.data();
  }
  for (const auto& comm : old) bpf_map_delete_elem(fd, comm.data());
  const uint8_t one = 1;
  size_t written = 0;
  for (const std::string& comm : comms) {
    std::array<char, NL_COMM_LEN> value{};
    comm.copy(value.data(), NL_COMM_LEN - 1);  // the kernel's comm: at most 15 bytes
    if (written == NL_HTTP_COMMS) break;       // the rest: judged by the daemon's scan only
    if (bpf_map_update_elem(fd, value.data(), &one, BPF_ANY) == 0) ++written;
  }
}

void Capture::AttachTls(const std::set<uint32_t>& tgids) {
  // Processes no longer watched lose their probes.
  for (uint32_t pid : tls_->Pids()) {
    if (!tgids.count(pid)) tls_->Detach(pid);
  }
  std::erase_if(tls_no_library_, [&](uint32_t pid) { return !tgids.count(pid); });
  std::erase_if(tls_failed_, [&](uint32_t pid) { return !tgids.count(pid); });
  for (uint32_t pid : tgids) {
    // A process without libssl may load it later (dlopen): tried again at each update.
    if (tls_->Attached(pid) || tls_failed_.count(pid)) continue;
    const TlsProbes::Outcome outcome = tls_->Attach(pid);
    switch (outcome.result) {
      case TlsProbes::Result::kAttached:
        tls_no_library_.erase(pid);
        ++tls_attached_;
        spdlog::debug("HTTP capture: TLS probes on {}", outcome.detail);
        break;
      case TlsProbes::Result::kNoLibrary:
        if (tls_no_library_.insert(pid).second)
          spdlog::info("HTTP capture: {}: its TLS traffic is not captured", outcome.detail);
        break;
      case TlsProbes::Result::kFailed:
        tls_no_library_.erase(pid);
        tls_failed_.insert(pid);
        ++tls_failed_count_;
        spdlog::warn("HTTP capture: TLS probes for process {}: {}", pid, outcome.detail);
        break;
    }
  }
  tls_no_library_count_ = tls_no_library_.size();
  tls_probed_ = tls_->Processes();
  const TlsProbes::CacheStats cache = tls_->Cache();
  tls_symbol_files_ = cache.files;
  tls_symbol_reads_ = cache.reads;
  tls_symbol_cache_resets_ = cache.resets;
}

int Capture::OnRecord(void* self, void* data, size_t size) {
  auto* capture = static_cast<Capture*>(self);
  nl_http_record record;
  if (size < sizeof(record)) {
    ++capture->malformed_;
    return 0;
  }
  std::memcpy(&record, data, sizeof(record));
  if (record.captured > size - sizeof(record)) {
    ++capture->malformed_;
    return 0;
  }
  ConnectionKey key;
  key.pid = record.pid;
  key.sk = record.sk;
  key.generation = record.cookie;
  key.family = record.tuple.family;
  std::memcpy(key.local.address.data(), record.tuple.local_addr, 16);
  std::memcpy(key.remote.address.data(), record.tuple.remote_addr, 16);
  key.local.port = record.tuple.local_port;
  key.remote.port = record.tuple.remote_port;
  key.comm.assign(record.comm, strnlen(record.comm, sizeof(record.comm)));
  key.tls = (record.flags & NL_HTTP_F_TLS) != 0;
  key.mysql = (record.flags & NL_HTTP_F_MYSQL) != 0;
  key.http2 = (record.flags & NL_HTTP_F_HTTP2) != 0;
  if (record.kind == NL_HTTP_REC_CLOSE) {
    if (capture->on_close_) capture->on_close_(key, record.ts_ns);
    return 0;
  }
  if (record.kind != NL_HTTP_REC_SEGMENT || record.length == 0) {
    ++capture->malformed_;
    return 0;
  }
  Segment segment{
      .direction = (record.flags & NL_HTTP_F_WRITE) ? Direction::kWrite : Direction::kRead,
      .ts_ns = record.ts_ns,
      .length = record.length,
      .bytes = std::string_view(static_cast<const char*>(data) + sizeof(record), record.captured),
      .tail = std::string_view(reinterpret_cast<const char*>(record.tail),
                               std::min<size_t>(record.tail_len, sizeof(record.tail))),
  };
  if (capture->on_segment_) capture->on_segment_(key, segment);
  return 0;
}

size_t Capture::Drain() {
  std::lock_guard lock(drain_mutex_);
  const int n = ring_buffer__consume(ring_);
  return n > 0 ? static_cast<size_t>(n) : 0;
}

void Capture::StartDraining(std::chrono::milliseconds period) {
  StopDraining();
  {
    std::lock_guard lock(stop_mutex_);
    stop_ = false;
  }
  drainer_ = std::thread([this, period] {
    std::unique_lock lock(stop_mutex_);
    while (!stop_cv_.wait_for(lock, period, [this] { return stop_; })) {
      lock.unlock();
      Drain();
      lock.lock();
    }
  });
}

void Capture::StopDraining() {
  if (!drainer_.joinable()) return;
  {
    std::lock_guard lock(stop_mutex_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  drainer_.join();
}

CaptureStats Capture::Stats() const {
  const std::vector<uint64_t> sums =
      SumPerCpuCounters(bpf_map__fd(skel_->maps.http_stats), NL_HTTP_STATS);
  CaptureStats stats;
  stats.segments = sums[NL_HTTP_STAT_SEGMENTS];
  stats.segments_no_buffer = sums[NL_HTTP_STAT_SEGMENTS_NO_BUFFER];
  stats.lost_ring_full = sums[NL_HTTP_STAT_LOST_RING_FULL];
  stats.lost_connections_full = sums[NL_HTTP_STAT_LOST_CONNS_FULL];
  stats.lost_copy_failed = sums[NL_HTTP_STAT_LOST_COPY_FAILED];
  stats.lost_process_stats_full = sums[NL_HTTP_STAT_LOST_PROC_STATS_FULL];
  stats.lost_processes_full = sums[NL_HTTP_STAT_LOST_PIDS_FULL];
  stats.closes = sums[NL_HTTP_STAT_CLOSES];
  stats.verdict_http = sums[NL_HTTP_STAT_VERDICT_HTTP];
  stats.verdict_tls = sums[NL_HTTP_STAT_VERDICT_TLS];
  stats.verdict_other = sums[NL_HTTP_STAT_VERDICT_OTHER];
  stats.verdict_mysql = sums[NL_HTTP_STAT_VERDICT_MYSQL];
  stats.verdict_http2 = sums[NL_HTTP_STAT_VERDICT_HTTP2];
  stats.records_malformed = malformed_.load();
  stats.tls_segments = sums[NL_HTTP_STAT_TLS_SEGMENTS];
  stats.tls_verdict_http = sums[NL_HTTP_STAT_TLS_VERDICT_HTTP];
  stats.tls_verdict_other = sums[NL_HTTP_STAT_TLS_VERDICT_OTHER];
  stats.tls_lost_no_connection = sums[NL_HTTP_STAT_TLS_LOST_NO_CONN];
  stats.tls_lost_calls_full = sums[NL_HTTP_STAT_TLS_LOST_CALLS_FULL];
  stats.tls_lost_ssl_full = sums[NL_HTTP_STAT_TLS_LOST_SSL_FULL];
  stats.tls_attached = tls_attached_.load();
  stats.tls_no_library = tls_no_library_count_.load();
  stats.tls_attach_failed = tls_failed_count_.load();
  stats.tls_processes_probed = tls_probed_.load();
  stats.tls_symbol_files = tls_symbol_files_.load();
  stats.tls_symbol_reads = tls_symbol_reads_.load();
  stats.tls_symbol_cache_resets = tls_symbol_cache_resets_.load();
  return stats;
}

std::map<uint32_t, ProcessVerdicts> Capture::VerdictsByProcess() const {
  std::map<uint32_t, ProcessVerdicts> result;
  const int fd = bpf_map__fd(skel_->maps.http_proc_stats);
  uint32_t key = 0, next = 0;
  const void* previous = nullptr;
  while (bpf_map_get_next_key(fd, previous, &next) == 0) {
    nl_http_proc_stats value{};
    if (bpf_map_lookup_elem(fd, &next, &value) == 0) {
      result[next] = {value.connections[NL_HTTP_HTTP], value.connections[NL_HTTP_TLS],
                      value.connections[NL_HTTP_OTHER], value.connections[NL_HTTP_MYSQL],
                      value.connections[NL_HTTP_HTTP2]};
    }
    key = next;
    previous = &key;
  }
  return result;
}

Capture::ProgramRuns Capture::Runs(const std::string& program) const {
  const bpf_program* prog = bpf_object__find_program_by_name(skel_->obj, program.c_str());
  bpf_prog_info info{};
  uint32_t length = sizeof(info);
  if (!prog || bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &length) != 0) return {};
  return {info.run_cnt, info.run_time_ns};
}

}  // namespace netlens::http
