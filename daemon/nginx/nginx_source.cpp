#include "nginx/nginx_source.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "metrics/histogram_render.h"
#include "metrics/metric_builder.h"
#include "metrics/metric_names.h"
#include "process/elf_symbols.h"

namespace netlens::nginx {
namespace {

using prometheus::MetricType;
namespace names = metric_name;

double d(uint64_t value) { return static_cast<double>(value); }

std::vector<NginxBuild> BuildsOf(const NginxPhasesConfig& phases) {
  std::vector<NginxBuild> builds = phases.builds;
  builds.insert(builds.end(), KnownBuilds().begin(), KnownBuilds().end());
  return builds;
}

// The build table entry's name in netlens_nginx_binaries: its file, without the place in it.
std::string BuildName(const NginxBuild& build) {
  return build.origin.substr(0, build.origin.find(".yaml") + 5);
}

std::vector<prometheus::ClientMetric::Label> RequestLabels(const RequestKey& key) {
  const auto other = [&](std::string value) { return key.folded ? "other" : std::move(value); };
  return {{"server", other(key.server)},
          {"http_request_method", other(key.method)},
          {"http_route", other(key.route)},
          {"http_response_status_code", other(std::to_string(key.status))}};
}

std::vector<prometheus::ClientMetric::Label> UpstreamLabels(const UpstreamKey& key) {
  const auto other = [&](std::string value) { return key.folded ? "other" : std::move(value); };
  return {{"server", other(key.server)},
          {"upstream", other(key.upstream)},
          {"upstream_status", other(key.status)}};
}

template <typename Map, typename Labels, typename Render>
prometheus::MetricFamily Family(const Map& series, std::string_view name, std::string help,
                                MetricType type, Labels labels, Render render) {
  prometheus::MetricFamily family;
  family.name = std::string(name);
  family.help = std::move(help);
  family.type = type;
  for (const auto& [key, value] : series) {
    prometheus::ClientMetric metric;
    metric.label = labels(key);
    render(value, metric);
    family.metric.push_back(std::move(metric));
  }
  return family;
}

}  // namespace

NginxSource::NginxSource(const NginxSourceSettings& settings)
    : settings_(settings),
      watch_(settings.phases.processes, settings.max_processes, settings.proc_root),
      aggregator_(settings.phases.routes, settings.phases.route_budget, settings.series_budget),
      builds_(BuildsOf(settings.phases)) {}

std::unique_ptr<NginxSource> NginxSource::Start(const NginxSourceSettings& settings) {
  std::unique_ptr<NginxSource> source(new NginxSource(settings));
  NginxSource* self = source.get();
  source->probe_ = PhasesProbe::Load(settings.btf_path, [self](const nl_nginx_request& request) {
    self->aggregator_.Add(request);  // the drain holds mutex_
  });
  {
    std::lock_guard lock(source->mutex_);
    source->ScanLocked();
  }
  source->thread_ = std::thread([self] { self->Run(); });
  return source;
}

NginxSource::~NginxSource() {
  {
    std::lock_guard lock(stop_mutex_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void NginxSource::ScanLocked() {
  const std::set<uint32_t>& pids = watch_.Scan(http::ProcessWatch::Clock::now(), {}, 0);
  for (uint32_t pid : pids) {
    const std::string exe = settings_.proc_root + "/" + std::to_string(pid) + "/exe";
    struct stat file {};
    if (stat(exe.c_str(), &file) != 0) continue;  // gone, or not ours to read
    const auto id = std::make_pair(file.st_dev, file.st_ino);
    if (binaries_.count(id)) continue;
    if (binaries_.size() >= kMaxBinaries) {
      ++binaries_over_limit_;
      continue;
    }
    char target[PATH_MAX] = {};
    const ssize_t length = readlink(exe.c_str(), target, sizeof(target) - 1);
    Binary binary;
    binary.path = length > 0 ? std::string(target, length) : exe;
    try {
      const std::string image = ReadElfFile(exe);
      const BinaryIdentity identity = IdentifyBinary(image, builds_);
      binary.version = identity.version;
      if (!identity.build) {
        binary.build = "unknown";
        spdlog::warn(
            "nginx phases: {} (pid {}) is nginx {}, a build whose struct offsets netlens does not "
            "know: not probed. Generate them with scripts/nginx/gen-offsets.sh and add them under "
            "nginx_phases.builds",
            binary.path, pid, binary.version.empty() ? "of no version found" : binary.version);
      } else {
        const NginxBuild& build = builds_[*identity.build];
        // The file through /proc/PID/exe: the same inode, in the process's own mount namespace.
        probe_->Attach(exe, image, build);
        binary.build = BuildName(build);
        spdlog::info("nginx phases: probing {} (pid {}), nginx {} as {}", binary.path, pid,
                     build.version, build.origin);
      }
    } catch (const std::exception& e) {
      binary.build = "failed";
      spdlog::warn("nginx phases: {} (pid {}) not probed: {}", binary.path, pid, e.what());
    }
    binaries_.emplace(id, std::move(binary));
  }
}

void NginxSource::Run() {
  auto next_scan = std::chrono::steady_clock::now() + kScanPeriod;
  std::unique_lock stop(stop_mutex_);
  while (!stop_cv_.wait_for(stop, kDrainPeriod, [this] { return stop_; })) {
    std::lock_guard lock(mutex_);
    probe_->Drain();
    if (std::chrono::steady_clock::now() >= next_scan) {
      ScanLocked();
      next_scan = std::chrono::steady_clock::now() + kScanPeriod;
    }
  }
}

void NginxSource::Collect(SourceOutput out) {
  std::lock_guard lock(mutex_);
  probe_->Drain();
  const ShownBuckets shown = ShownBucketsOf(settings_.latency_buckets);
  const auto histogram = [&](const http::DurationHistogram& h, prometheus::ClientMetric& metric) {
    metric.histogram = RenderHistogram(h.buckets, h.sum_ns, shown);
  };
  const auto counter = [](uint64_t value, prometheus::ClientMetric& metric) {
    metric.counter.value = d(value);
  };
  const auto& requests = aggregator_.requests();
  const auto& upstreams = aggregator_.upstreams();
  if (!requests.empty()) {
    out.families.push_back(Family(
        requests, names::kNginxRequestDurationSeconds,
        "nginx's $request_time: from the request's first byte read to the log phase, in nginx's "
        "millisecond clock",
        MetricType::Histogram, RequestLabels,
        [&](const RequestSeries& s, prometheus::ClientMetric& m) { histogram(s.duration, m); }));
    out.families.push_back(Family(
        requests, names::kNginxRequestSizeBytesTotal,
        "nginx's $request_length summed: request line, headers and body as read from the client",
        MetricType::Counter, RequestLabels,
        [&](const RequestSeries& s, prometheus::ClientMetric& m) { counter(s.request_bytes, m); }));
    out.families.push_back(
        Family(requests, names::kNginxResponseSizeBytesTotal,
               "nginx's $bytes_sent summed: bytes sent to the client, headers included",
               MetricType::Counter, RequestLabels,
               [&](const RequestSeries& s, prometheus::ClientMetric& m) {
                 counter(s.response_bytes, m);
               }));
    for (std::string_view name :
         {names::kNginxRequestDurationSeconds, names::kNginxRequestSizeBytesTotal,
          names::kNginxResponseSizeBytesTotal})
      out.budgets.push_back({std::string(name), aggregator_.folded_request_keys()});
  }
  if (!upstreams.empty()) {
    out.families.push_back(Family(
        upstreams, names::kNginxUpstreamTriesTotal,
        "Upstream tries of nginx's requests (each element of $upstream_status), by peer and the "
        "try's status (none: nginx logged \"-\")",
        MetricType::Counter, UpstreamLabels,
        [&](const UpstreamSeries& s, prometheus::ClientMetric& m) { counter(s.tries, m); }));
    struct Phase {
      std::string_view name;
      const char* help;
      http::DurationHistogram UpstreamSeries::*member;
    };
    for (const Phase& phase : {
             Phase{names::kNginxUpstreamConnectDurationSeconds,
                   "nginx's $upstream_connect_time per try that connected",
                   &UpstreamSeries::connect},
             Phase{names::kNginxUpstreamHeaderDurationSeconds,
                   "nginx's $upstream_header_time per try that received a response header",
                   &UpstreamSeries::header},
             Phase{names::kNginxUpstreamResponseDurationSeconds,
                   "nginx's $upstream_response_time per try with a response",
                   &UpstreamSeries::response},
         }) {
      out.families.push_back(Family(upstreams, phase.name, phase.help, MetricType::Histogram,
                                    UpstreamLabels,
                                    [&](const UpstreamSeries& s, prometheus::ClientMetric& m) {
                                      histogram(s.*phase.member, m);
                                    }));
    }
    out.families.push_back(Family(upstreams, names::kNginxUpstreamReceivedBytesTotal,
                                  "nginx's $upstream_bytes_received summed per try",
                                  MetricType::Counter, UpstreamLabels,
                                  [&](const UpstreamSeries& s, prometheus::ClientMetric& m) {
                                    counter(s.bytes_received, m);
                                  }));
    out.families.push_back(Family(
        upstreams, names::kNginxUpstreamSentBytesTotal,
        "nginx's $upstream_bytes_sent summed per try", MetricType::Counter, UpstreamLabels,
        [&](const UpstreamSeries& s, prometheus::ClientMetric& m) { counter(s.bytes_sent, m); }));
    for (std::string_view name :
         {names::kNginxUpstreamTriesTotal, names::kNginxUpstreamConnectDurationSeconds,
          names::kNginxUpstreamHeaderDurationSeconds, names::kNginxUpstreamResponseDurationSeconds,
          names::kNginxUpstreamReceivedBytesTotal, names::kNginxUpstreamSentBytesTotal})
      out.budgets.push_back({std::string(name), aggregator_.folded_upstream_keys()});
  }

  // Self metrics.
  MetricBuilder binaries(names::kNginxBinaries,
                         "nginx executables of the selected processes, by the build table entry "
                         "they matched (unknown: not probed; failed: probing failed, logged)",
                         MetricType::Gauge);
  for (const auto& [id, binary] : binaries_)
    binaries.Add({"path", "version", "build"}, {binary.path, binary.version, binary.build}, 1);
  out.families.push_back(binaries.Take());
  const PhasesStats stats = probe_->Stats();
  MetricBuilder read(names::kNginxRequestsReadTotal,
                     "nginx requests the probe recorded at ngx_http_free_request",
                     MetricType::Counter);
  read.Add({}, {}, d(stats.requests));
  out.families.push_back(read.Take());
  MetricBuilder lost(names::kNginxLostRequestsTotal,
                     "nginx requests the probe saw but could not record, by reason",
                     MetricType::Counter);
  lost.Add({"reason"}, {"ring_full"}, d(stats.ring_full));
  lost.Add({"reason"}, {"read_failed"}, d(stats.read_failed));
  lost.Add({"reason"}, {"no_build"}, d(stats.no_build));
  lost.Add({"reason"}, {"malformed"}, d(stats.malformed));
  out.families.push_back(lost.Take());
  MetricBuilder overflow(names::kNginxRouteOverflowTotal,
                         "nginx requests given the route /{overflow}: nginx_phases.route_budget "
                         "routes were taken",
                         MetricType::Counter);
  overflow.Add({}, {}, d(aggregator_.route_overflow()));
  out.families.push_back(overflow.Take());
  MetricBuilder untimed(names::kNginxUpstreamTriesNotCopiedTotal,
                        "Upstream tries beyond the first 4 of a request: in no upstream series",
                        MetricType::Counter);
  untimed.Add({}, {}, d(aggregator_.tries_not_copied()));
  out.families.push_back(untimed.Take());
}

}  // namespace netlens::nginx
