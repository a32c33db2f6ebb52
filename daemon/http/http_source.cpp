#include "http/http_source.h"

#include <spdlog/spdlog.h>
#include <time.h>

#include <algorithm>
#include <string_view>

#include "grpc/grpc_families.h"
#include "http/capture_source.h"
#include "http/http_families.h"
#include "metrics/labels.h"
#include "metrics/metric_builder.h"
#include "mysql/mysql_families.h"
#include "process/process_info.h"  // ReadNetnsInode

namespace netlens::http {
namespace {

uint64_t MonotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);  // bpf_ktime_get_ns's clock
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

StitcherLimits LimitsOf(const HttpRequestsConfig& config) {
  StitcherLimits limits;
  limits.max_pending = config.pending_requests;
  return limits;
}

bool SameRoutes(const HttpRequestsConfig& a, const HttpRequestsConfig& b) {
  if (a.route_budget != b.route_budget || a.routes.size() != b.routes.size()) return false;
  for (size_t i = 0; i < a.routes.size(); ++i) {
    if (a.routes[i].service != b.routes[i].service || a.routes[i].patterns != b.routes[i].patterns)
      return false;
  }
  return true;
}

// A plain HTTP/2 request as the HTTP families count it.
Exchange AsHttpExchange(const http2::Exchange& stream) {
  Exchange exchange;
  exchange.role = stream.role;
  exchange.method = stream.method;
  exchange.path = stream.path;
  exchange.host = stream.authority;
  exchange.status = stream.status;
  exchange.request_body_bytes = stream.request_body_bytes;
  exchange.response_body_bytes = stream.response_body_bytes;
  exchange.request_start_ns = stream.request_start_ns;
  exchange.response_first_byte_ns = stream.response_first_byte_ns;
  exchange.response_last_byte_ns = stream.response_end_ns;
  return exchange;
}

}  // namespace

HttpSource::HttpSource(const HttpSourceSettings& settings)
    : settings_(settings),
      watch_(settings.requests.processes, settings.max_processes),
      labels_(std::make_unique<ProcessLabels>(settings.labels)),
      aggregator_(std::make_unique<HttpAggregator>(settings.requests, settings.series_budget)),
      mysql_aggregator_(std::make_unique<mysql::Aggregator>(settings.series_budget)),
      grpc_aggregator_(std::make_unique<grpc::Aggregator>(settings.series_budget)) {}

std::unique_ptr<HttpSource> HttpSource::Start(const HttpSourceSettings& settings) {
  std::unique_ptr<HttpSource> source(new HttpSource(settings));
  HttpSource* self = source.get();
  CaptureOptions options;
  options.processes = settings.max_processes;
  options.btf_path = settings.btf_path;
  options.tls = settings.requests.tls;
  options.hooks = settings.requests.capture_hooks;
  options.mysql = settings.requests.mysql;
  options.http2 = settings.requests.http2;
  source->capture_ = Capture::Load(
      options, [self](const ConnectionKey& key, const Segment& s) { self->OnSegment(key, s); },
      [self](const ConnectionKey& key, uint64_t ts_ns) { self->OnClose(key, ts_ns); });
  {
    std::lock_guard lock(source->mutex_);
    source->capture_->SetWatchedComms(source->watch_.KernelComms());
    source->ScanLocked();
  }
  source->thread_ = std::thread([self] { self->Run(); });
  spdlog::info(
      "http_requests: parsing the HTTP/1.x{}{} traffic of {} processes now ({} selectors; calls "
      "from the {} hooks)",
      settings.requests.http2 ? ", HTTP/2 (gRPC)" : "", settings.requests.mysql ? " and MySQL" : "",
      source->watch_.watched().size(), settings.requests.processes.include.size(),
      CaptureHooksName(source->capture_->hooks()));
  return source;
}

HttpSource::~HttpSource() {
  {
    std::lock_guard lock(stop_mutex_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void HttpSource::Run() {
  std::unique_lock lock(stop_mutex_);
  while (!stop_cv_.wait_for(lock, kDrainPeriod, [this] { return stop_; })) {
    lock.unlock();
    capture_->Drain();
    {
      std::lock_guard state(mutex_);
      if (std::chrono::steady_clock::now() - last_scan_ >= kScanPeriod) ScanLocked();
    }
    lock.lock();
  }
}

void HttpSource::ScanLocked() {
  last_scan_ = std::chrono::steady_clock::now();
  const uint64_t now_ns = MonotonicNs();
  // Off: the watch selects nothing (so netlens_http_capture_processes_watched is 0), and the
  // processes the kernel added since go too (UINT64_MAX: none is kept as not yet judged).
  const std::set<uint32_t>& watched = watch_.Scan(last_scan_, capture_->Watched(), now_ns);
  try {
    capture_->SetWatchedProcesses(watched, settings_.requests.enabled() ? now_ns : UINT64_MAX);
  } catch (const CaptureError& e) {
    spdlog::warn("http_requests: {}", e.what());
  }
  {
    std::lock_guard parsed(parsed_mutex_);
    parsed_ = watched;
  }
  // The labels of processes no longer watched are read again if they come back.
  std::erase_if(processes_, [&](const auto& entry) { return !watched.count(entry.first.first); });
  // Series of processes gone: dropped process_ttl later.
  std::set<std::vector<std::pair<std::string, std::string>>> live;
  for (const auto& [pid_port, process] : processes_) live.insert(process.labels);
  for (const auto& [key, connection] : connections_) {
    if (connection->process) live.insert(connection->process->labels);
  }
  const uint64_t ttl_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(settings_.process_ttl).count();
  aggregator_->ExpireOrphans(live, ttl_ns, now_ns);
  mysql_aggregator_->ExpireOrphans(live, ttl_ns, now_ns);
  grpc_aggregator_->ExpireOrphans(live, ttl_ns, now_ns);
}

const HttpProcess& HttpSource::ProcessOfLocked(const ConnectionKey& key, Role role) {
  const uint16_t service_port = role == Role::kClient ? key.remote.port : key.local.port;
  auto [it, fresh] = processes_.try_emplace({key.pid, service_port});
  if (!fresh) return it->second;
  HttpProcess& process = it->second;
  char raw_comm[16] = {};
  key.comm.copy(raw_comm, sizeof(raw_comm) - 1);
  const std::string comm = CommLabel(raw_comm);
  if (settings_.labels.pid) process.labels.emplace_back("pid", std::to_string(key.pid));
  process.labels.emplace_back("comm", comm);
  std::vector<std::string> values;
  LabelSubject subject;
  subject.pid = key.pid;
  subject.netns = static_cast<uint32_t>(ReadNetnsInode(key.pid));
  subject.service_port = service_port;
  subject.comm = comm;
  labels_->Append(subject, values, ProcessCache::Clock::now());
  const std::vector<std::string>& names = labels_->names();
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (names[i] == "service" && !values[i].empty()) process.service = values[i];
    process.labels.emplace_back(names[i], values[i]);
  }
  if (process.service.empty()) process.service = comm;
  return process;
}

HttpSource::Connection* HttpSource::ConnectionOfLocked(const ConnectionKey& key, uint64_t now_ns) {
  if (auto it = connections_.find(key); it != connections_.end()) return it->second.get();
  if (connections_.size() >= settings_.requests.connections) {
    auto idlest = std::min_element(
        connections_.begin(), connections_.end(),
        [](const auto& a, const auto& b) { return a.second->last_ns < b.second->last_ns; });
    const uint64_t idle_ns = std::chrono::nanoseconds(kEvictIdle).count();
    if (idlest == connections_.end() || now_ns - idlest->second->last_ns < idle_ns) {
      // Counted once per connection, not per segment; tried again at each segment.
      if (!skipped_.count(key)) {
        ++connections_skipped_;
        if (skipped_.size() < settings_.requests.connections) skipped_.insert(key);
      }
      return nullptr;
    }
    connections_.erase(idlest);
    ++connections_evicted_;
  }
  skipped_.erase(key);
  auto connection =
      std::make_unique<Connection>(aggregator_->counters(), LimitsOf(settings_.requests));
  Connection* raw = connection.get();
  connections_.emplace(key, std::move(connection));
  return raw;
}

void HttpSource::OnSegment(const ConnectionKey& key, const Segment& segment) {
  std::lock_guard lock(mutex_);
  Connection* connection = ConnectionOfLocked(key, segment.ts_ns);
  if (!connection) return;
  connection->last_ns = segment.ts_ns;
  if (key.mysql) {
    if (!connection->mysql)
      connection->mysql = std::make_unique<mysql::Stitcher>(mysql_aggregator_->counters());
    mysql_exchanges_.clear();
    connection->mysql->OnSegment(segment, mysql_exchanges_);
    AddMysqlLocked(*connection, key);
    return;
  }
  if (key.http2) {
    if (!connection->http2) connection->http2 = std::make_unique<http2::Stitcher>(http2_counters_);
    http2_exchanges_.clear();
    connection->http2->OnSegment(segment, http2_exchanges_);
    AddHttp2Locked(*connection, key);
    return;
  }
  exchanges_.clear();
  connection->stitcher.OnSegment(segment, exchanges_);
  AddLocked(*connection, key);
}

void HttpSource::AddMysqlLocked(Connection& connection, const ConnectionKey& key) {
  for (const mysql::Exchange& exchange : mysql_exchanges_) {
    if (!connection.process) connection.process = ProcessOfLocked(key, exchange.role);
    mysql_aggregator_->Add(*connection.process, exchange, AddressLabel(key.remote.address.data()),
                           key.remote.port, exchange.end_ns);
    ++exchanges_total_;
    if (observer_ && exchange.command != mysql::kHandshake) {  // commands only
      observer_(ExchangeSummary{
          exchange.role, "mysql", key.pid, key.local, key.remote,
          exchange.outcome == mysql::Outcome::kError,
          exchange.end_ns > exchange.start_ns ? exchange.end_ns - exchange.start_ns : 0});
    }
  }
}

void HttpSource::AddHttp2Locked(Connection& connection, const ConnectionKey& key) {
  for (const http2::Exchange& stream : http2_exchanges_) {
    if (!connection.process) connection.process = ProcessOfLocked(key, stream.role);
    const std::string address = AddressLabel(key.remote.address.data());
    bool error = false;
    if (stream.grpc) {
      grpc_aggregator_->Add(*connection.process, stream, address, key.remote.port);
      error = stream.grpc_status > 0;
    } else if (stream.status != 0) {
      aggregator_->Add(*connection.process, AsHttpExchange(stream), address, key.remote.port,
                       stream.response_end_ns);
      error = stream.status >= 500;
    } else {  // no HTTP status: reset before the response (streams_reset), or not known
      if (!stream.reset) ++http2_counters_.status_unknown;
      continue;
    }
    ++exchanges_total_;
    if (observer_) {
      const uint64_t end = stream.response_end_ns, start = stream.request_start_ns;
      observer_(ExchangeSummary{stream.role, stream.grpc ? "grpc" : "http", key.pid, key.local,
                                key.remote, error, end > start ? end - start : 0});
    }
  }
}

void HttpSource::AddLocked(Connection& connection, const ConnectionKey& key) {
  for (const Exchange& exchange : exchanges_) {
    if (!connection.process) connection.process = ProcessOfLocked(key, exchange.role);
    aggregator_->Add(*connection.process, exchange, AddressLabel(key.remote.address.data()),
                     key.remote.port, exchange.response_last_byte_ns);
    ++exchanges_total_;
    if (observer_) {
      const uint64_t end = exchange.response_last_byte_ns, start = exchange.request_start_ns;
      observer_(ExchangeSummary{exchange.role, "http", key.pid, key.local, key.remote,
                                exchange.status >= 500, end > start ? end - start : 0});
    }
  }
}

void HttpSource::OnClose(const ConnectionKey& key, uint64_t ts_ns) {
  std::lock_guard lock(mutex_);
  skipped_.erase(key);
  const auto it = connections_.find(key);
  if (it == connections_.end()) return;
  Connection& connection = *it->second;
  if (connection.mysql) {
    mysql_exchanges_.clear();
    connection.mysql->OnClose(ts_ns, mysql_exchanges_);
    AddMysqlLocked(connection, key);
  } else if (connection.http2) {
    http2_exchanges_.clear();
    connection.http2->OnClose(ts_ns, http2_exchanges_);
    AddHttp2Locked(connection, key);
  } else {
    exchanges_.clear();
    connection.stitcher.OnClose(CloseEvent{ts_ns}, exchanges_);
    AddLocked(connection, key);
  }
  connections_.erase(it);
}

void HttpSource::Reconfigure(const HttpSourceSettings& settings) {
  std::lock_guard lock(mutex_);
  const bool labels_changed = !(settings.labels == settings_.labels);
  const bool routes_changed = !SameRoutes(settings.requests, settings_.requests) ||
                              settings.series_budget != settings_.series_budget;
  if (settings.requests.tls != settings_.requests.tls)
    spdlog::warn("reload: http_requests.tls changes only at restart; still {}",
                 settings_.requests.tls ? "on" : "off");
  if (settings.requests.capture_hooks != settings_.requests.capture_hooks)
    spdlog::warn("reload: http_requests.capture_hooks changes only at restart; still {}",
                 CaptureHooksName(settings_.requests.capture_hooks));
  if (settings.requests.mysql != settings_.requests.mysql)
    spdlog::warn("reload: http_requests.protocols changes only at restart; mysql still {}",
                 settings_.requests.mysql ? "on" : "off");
  if (settings.requests.http2 != settings_.requests.http2)
    spdlog::warn("reload: http_requests.protocols changes only at restart; http2 still {}",
                 settings_.requests.http2 ? "on" : "off");
  const bool tls = settings_.requests.tls, mysql = settings_.requests.mysql;
  const bool http2 = settings_.requests.http2;
  const CaptureHooks hooks = settings_.requests.capture_hooks;
  settings_.requests = settings.requests;
  settings_.requests.tls = tls;
  settings_.requests.mysql = mysql;
  settings_.requests.http2 = http2;
  settings_.requests.capture_hooks = hooks;
  settings_.labels = settings.labels;
  settings_.latency_buckets = settings.latency_buckets;
  settings_.series_budget = settings.series_budget;
  settings_.process_ttl = settings.process_ttl;
  if (labels_changed || routes_changed) {
    // New label names, routes or series budget start the series afresh (the tcp side does so
    // for labels; a smaller budget could not fold series already kept). The
    // stitchers point at the old aggregator's counters: they go too, and the connections are
    // parsed again from their next request.
    connections_.clear();
    skipped_.clear();
    processes_.clear();
    labels_ = std::make_unique<ProcessLabels>(settings_.labels);
    expired_before_ +=
        aggregator_->expired() + mysql_aggregator_->expired() + grpc_aggregator_->expired();
    aggregator_ = std::make_unique<HttpAggregator>(settings_.requests, settings_.series_budget);
    mysql_aggregator_ = std::make_unique<mysql::Aggregator>(settings_.series_budget);
    grpc_aggregator_ = std::make_unique<grpc::Aggregator>(settings_.series_budget);
  }
  watch_.SetSelectors(settings_.requests.processes);
  capture_->SetWatchedComms(settings_.requests.enabled() ? watch_.KernelComms()
                                                         : std::set<std::string>());
  ScanLocked();
}

void HttpSource::SetExchangeObserver(std::function<void(const ExchangeSummary&)> observer) {
  std::lock_guard lock(mutex_);
  observer_ = std::move(observer);
}

bool HttpSource::Parses(uint32_t pid) const {
  std::lock_guard lock(parsed_mutex_);
  return parsed_.count(pid) > 0;
}

void HttpSource::Collect(SourceOutput out) {
  capture_->Drain();
  std::lock_guard lock(mutex_);
  AppendHttpFamilies(*aggregator_, settings_.latency_buckets, out.families, out.budgets);
  aggregator_->MarkShown();
  if (settings_.requests.mysql) {
    mysql::AppendMysqlFamilies(*mysql_aggregator_, settings_.latency_buckets, out.families,
                               out.budgets);
    mysql_aggregator_->MarkShown();
  }
  if (settings_.requests.http2) {
    grpc::AppendGrpcFamilies(*grpc_aggregator_, http2_counters_, settings_.latency_buckets, out);
    grpc_aggregator_->MarkShown();
  }
  CaptureSource(*capture_).Collect(out);
  AppendSelfMetrics(out.families);
}

void HttpSource::AppendSelfMetrics(std::vector<prometheus::MetricFamily>& out) const {
  using prometheus::MetricType;
  const auto d = [](uint64_t value) { return static_cast<double>(value); };
  const auto gauge = [&](std::string_view name, std::string help, uint64_t value) {
    MetricBuilder builder(name, std::move(help), MetricType::Gauge);
    builder.Add({}, {}, d(value));
    out.push_back(builder.Take());
  };
  gauge("netlens_http_capture_processes_watched",
        "Processes whose HTTP traffic is parsed (http_requests.processes), at the last scan.",
        watch_.watched().size());
  gauge("netlens_http_capture_processes_over_limit",
        "Processes http_requests.processes selects but that are not watched: "
        "limits.target_processes were already.",
        watch_.over_limit());
  gauge("netlens_http_parser_connections",
        "HTTP connections being parsed now (at most http_requests.limits.connections).",
        connections_.size());
  MetricBuilder dropped("netlens_http_parser_connections_dropped_total",
                        "HTTP connections not parsed (skipped: the table was full of "
                        "connections active in the last 5 minutes) or no longer parsed "
                        "(evicted: idle for 5 minutes when the table was full).",
                        MetricType::Counter);
  dropped.Add({"reason"}, {"skipped"}, d(connections_skipped_));
  dropped.Add({"reason"}, {"evicted"}, d(connections_evicted_));
  out.push_back(dropped.Take());
  MetricBuilder expired(
      "netlens_http_series_expired_total",
      "HTTP (and gRPC, MySQL) request series dropped: no live process had their labels for "
      "process_ttl (after a scrape showed them).",
      MetricType::Counter);
  expired.Add({}, {},
              d(expired_before_ + aggregator_->expired() + mysql_aggregator_->expired() +
                grpc_aggregator_->expired()));
  out.push_back(expired.Take());
}

}  // namespace netlens::http
