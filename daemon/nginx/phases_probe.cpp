#include "nginx/phases_probe.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bpf/libbpf_errors.h"
#include "bpf/percpu_counters.h"
#include "bpf/uprobe_multi.h"
#include "nginx_phases_bpf.skel.h"
#include "process/elf_symbols.h"

namespace netlens::nginx {
namespace {

constexpr const char* kKernelBtf = "/sys/kernel/btf/vmlinux";
constexpr size_t kVerifierLogBytes = 1 << 20;
// Where the probe goes, and the variable it reads there: nginx's cached clock, which the log
// phase's $request_time reads too.
constexpr const char* kProbedFunction = "ngx_http_free_request";
constexpr const char* kCachedTime = "ngx_cached_time";

}  // namespace

std::unique_ptr<PhasesProbe> PhasesProbe::Load(const std::optional<std::string>& btf_path,
                                               RequestCallback on_request) {
  std::string log(kVerifierLogBytes, '\0');
  LIBBPF_OPTS(bpf_object_open_opts, open_opts);
  open_opts.btf_custom_path = btf_path ? btf_path->c_str() : kKernelBtf;
  open_opts.kernel_log_buf = log.data();
  open_opts.kernel_log_size = log.size();
  open_opts.kernel_log_level = 0;
  std::unique_ptr<PhasesProbe> probe(new PhasesProbe());
  probe->on_request_ = std::move(on_request);
  probe->skel_ = nginx_phases_bpf__open_opts(&open_opts);
  if (!probe->skel_)
    throw PhasesError(LibbpfFailure("opening the nginx phases eBPF object failed", -errno, ""));
  // Loaded for uprobe_multi links (unprivileged, so binaries found after start are probed too);
  // kernels before 6.6 ignore the type, and Attach() falls back to a perf-event uprobe.
  bpf_program__set_expected_attach_type(probe->skel_->progs.nl_nginx_free_request,
                                        static_cast<bpf_attach_type>(kAttachUprobeMulti));
  if (int err = nginx_phases_bpf__load(probe->skel_); err != 0)
    throw PhasesError(LibbpfFailure(
        "loading the nginx phases eBPF program failed (verifier or kernel support)", err, log));
  probe->ring_ = ring_buffer__new(bpf_map__fd(probe->skel_->maps.nginx_events),
                                  &PhasesProbe::OnRecord, probe.get(), nullptr);
  if (!probe->ring_)
    throw PhasesError(LibbpfFailure("opening the nginx phases ring buffer failed", -errno, ""));
  return probe;
}

PhasesProbe::~PhasesProbe() {
  for (bpf_link* link : links_) bpf_link__destroy(link);
  for (int fd : link_fds_) close(fd);
  if (ring_) ring_buffer__free(ring_);
  if (skel_) nginx_phases_bpf__destroy(skel_);
}

uint32_t PhasesProbe::Attach(const std::string& path, const std::string& image,
                             const NginxBuild& build) {
  if (attached_ >= NL_NGINX_BUILDS)
    throw PhasesError("nginx phases: " + std::to_string(NL_NGINX_BUILDS) +
                      " nginx binaries are probed already");
  std::vector<std::optional<ElfSymbol>> symbols;
  try {
    symbols = FindElfSymbols(image, {kProbedFunction, kCachedTime}, path);
  } catch (const std::exception& e) {
    throw PhasesError(std::string("nginx phases: ") + e.what());
  }
  const std::optional<ElfSymbol>& function = symbols[0];
  const std::optional<ElfSymbol>& cached_time = symbols[1];
  if (!function || !function->file_offset || !cached_time)
    throw PhasesError("nginx phases: " + path + " has no " +
                      (function ? kCachedTime : kProbedFunction) +
                      " symbol (nginx exports them when built with dynamic module support, as "
                      "distributions build it; a stripped static build cannot be probed)");
  // The build's probe site where this file holds its instruction there (a build's binaries
  // from another compiler may differ), else the entry.
  uint64_t probe_offset = *function->file_offset;
  uint64_t probe_address = function->address;
  nl_nginx_build offsets = build.offsets;
  offsets.request_at = NL_NGINX_AT_ENTRY;
  if (build.site) {
    const uint64_t at = *function->file_offset + build.site->offset;
    if (at + build.site->bytes.size() <= image.size() &&
        image.compare(at, build.site->bytes.size(), build.site->bytes) == 0) {
      probe_offset = at;
      probe_address += build.site->offset;
      offsets.request_at = build.site->request;
      spdlog::info("nginx phases: {}: probing at {}+{}, its build's probe site", path,
                   kProbedFunction, build.site->offset);
    } else {
      spdlog::warn(
          "nginx phases: {}: the bytes at {}+{} are not those of its build's probe site ({}); "
          "probing the function's entry instead, which costs more per request",
          path, kProbedFunction, build.site->offset, build.origin);
    }
  }
  offsets.cached_time_delta =
      static_cast<int64_t>(cached_time->address) - static_cast<int64_t>(probe_address);
  const auto index = static_cast<uint32_t>(attached_);
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.nginx_builds), &index, &offsets, BPF_ANY) != 0)
    throw PhasesError(LibbpfFailure("nginx phases: writing the offsets of " + path, -errno, ""));
  const int prog_fd = bpf_program__fd(skel_->progs.nl_nginx_free_request);
  // pid 0: every process that runs this file (the master and all its workers).
  const int fd = CreateUprobeMultiLink(prog_fd, path, {probe_offset}, {index}, false, 0);
  if (fd >= 0) {
    link_fds_.push_back(fd);
  } else {
    // Before Linux 6.6: a perf-event uprobe, which needs the privileges of start-up.
    LIBBPF_OPTS(bpf_uprobe_opts, options, .bpf_cookie = index);
    bpf_link* link = bpf_program__attach_uprobe_opts(skel_->progs.nl_nginx_free_request, -1,
                                                     path.c_str(), probe_offset, &options);
    if (!link)
      throw PhasesError(LibbpfFailure("nginx phases: attaching the uprobe to " + path + " at " +
                                          kProbedFunction +
                                          " (uprobe_multi: " + std::strerror(-fd) + ")",
                                      -errno, ""));
    links_.push_back(link);
  }
  ++attached_;
  return index;
}

int PhasesProbe::OnRecord(void* self, void* data, size_t size) {
  auto* probe = static_cast<PhasesProbe*>(self);
  if (size < sizeof(nl_nginx_request)) {
    ++probe->malformed_;
    return 0;
  }
  nl_nginx_request request;
  std::memcpy(&request, data, sizeof(request));
  probe->on_request_(request);
  return 0;
}

size_t PhasesProbe::Drain() {
  std::lock_guard lock(drain_mutex_);
  const int n = ring_buffer__consume(ring_);
  return n > 0 ? static_cast<size_t>(n) : 0;
}

PhasesStats PhasesProbe::Stats() const {
  const std::vector<uint64_t> sums =
      SumPerCpuCounters(bpf_map__fd(skel_->maps.nginx_stats), NL_NGINX_STAT_MAX);
  PhasesStats stats;
  stats.requests = sums[NL_NGINX_STAT_REQUESTS];
  stats.ring_full = sums[NL_NGINX_STAT_RING_FULL];
  stats.read_failed = sums[NL_NGINX_STAT_READ_FAILED];
  stats.no_build = sums[NL_NGINX_STAT_NO_BUILD];
  stats.malformed = malformed_;
  return stats;
}

std::pair<uint64_t, uint64_t> PhasesProbe::Runs() const {
  bpf_prog_info info{};
  uint32_t length = sizeof(info);
  if (bpf_obj_get_info_by_fd(bpf_program__fd(skel_->progs.nl_nginx_free_request), &info, &length) !=
      0)
    return {};
  return {info.run_cnt, info.run_time_ns};
}

}  // namespace netlens::nginx
