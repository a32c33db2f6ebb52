// The HTTP request metric source (issue 16): joins the kernel capture (http/capture.h), the
// process selection (http/process_watch.h), one exchange stitcher per connection
// (http/exchange.h) and the aggregator (http/http_aggregator.h), and renders the
// http_server_* / http_client_* families with the capture's and parser's self metrics.
//
// - MySQL (http_requests.protocols: [http, mysql]): the capture classifies those connections
//   too (key.mysql); they are parsed by a mysql::Stitcher each (daemon/mysql/) into the
//   netlens_db_* families, with the same processes, labels, bounds and expiry.
// - HTTP/2 (protocols: [http, http2]): connections the capture classifies http2 (key.http2,
//   plaintext or TLS) are parsed by an http2::Stitcher each (daemon/http2/); their gRPC calls
//   go to the netlens_rpc_* families (daemon/grpc/), their other requests to the HTTP families.
// - Made only when `http_requests` selects processes at start: Start() loads the capture,
//   which needs the privileges netlens drops after start. A reload may change the selectors,
//   routes, labels and series budget (the last three start the series afresh); turning the
//   section on needs a restart, turning it off watches nothing.
// - A thread drains the capture every kDrainPeriod (never a wakeup per event) and scans the
//   processes every kScanPeriod; Collect() drains once more, so a scrape sees every exchange
//   completed before it.
// - Bounded: `limits.connections` connections are parsed at once (beyond: the longest idle one
//   is evicted if idle for kEvictIdle, else the new one is skipped and tried again at its next
//   segment; each counted once per connection); the series budget (limits.series_per_family,
//   its "other" series included); routes per service (http/routes.h); processes
//   (limits.target_processes).
// - Series are per process with the tcp side's process labels (pid when labels.pid, comm, the
//   metadata labels) and stay until a reload changes the label set.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "config/config.h"
#include "grpc/grpc_aggregator.h"
#include "http/capture.h"
#include "http/exchange.h"
#include "http/http_aggregator.h"
#include "http/process_watch.h"
#include "http2/http2_stitcher.h"
#include "metrics/metric_source.h"
#include "mysql/mysql_aggregator.h"
#include "mysql/mysql_stitcher.h"
#include "process/process_labels.h"

namespace netlens::http {

// One completed exchange (HTTP or MySQL) as the service map attributes it to its edge
// (SetExchangeObserver): the connection as the observed process sees it, and the outcome.
struct ExchangeSummary {
  Role role = Role::kUnknown;     // the observed process's side
  const char* protocol = "http";  // "http", "grpc" or "mysql"
  uint32_t pid = 0;
  Endpoint local, remote;
  bool error = false;  // HTTP: a 5xx status; gRPC: a status other than OK; MySQL: an ERR packet
  uint64_t duration_ns = 0;
};

struct HttpSourceSettings {
  HttpRequestsConfig requests;
  LabelSettings labels;
  size_t series_budget = 10000;
  LatencyBuckets latency_buckets;
  uint32_t max_processes = 4096;
  std::optional<std::string> btf_path;
  // The series of a process that exited go this long after (HttpAggregator::ExpireOrphans).
  std::chrono::seconds process_ttl{300};
};

class HttpSource : public MetricSource {
 public:
  static constexpr auto kDrainPeriod = std::chrono::milliseconds(100);
  static constexpr auto kScanPeriod = std::chrono::seconds(1);
  static constexpr auto kEvictIdle = std::chrono::minutes(5);

  // Loads and attaches the capture and starts watching; throws CaptureError.
  static std::unique_ptr<HttpSource> Start(const HttpSourceSettings& settings);
  ~HttpSource() override;
  HttpSource(const HttpSource&) = delete;
  HttpSource& operator=(const HttpSource&) = delete;

  const char* name() const override { return "http"; }
  void Collect(SourceOutput out) override;
  // A reload; settings.requests disabled: nothing is watched any more.
  void Reconfigure(const HttpSourceSettings& settings);
  // Every exchange from now on is also handed to `observer` (on the drain thread, with this
  // source's lock held: it must not call back into this source).
  void SetExchangeObserver(std::function<void(const ExchangeSummary&)> observer);
  // Whether pid's traffic is parsed now (watched at the last scan). Thread-safe; takes only a
  // lock of its own.
  bool Parses(uint32_t pid) const;

 private:
  struct Connection {
    Connection(Counters& counters, const StitcherLimits& limits) : stitcher(counters, limits) {}
    ExchangeStitcher stitcher;
    std::unique_ptr<mysql::Stitcher> mysql;  // a MySQL connection (key.mysql): parsed by this
    std::unique_ptr<http2::Stitcher> http2;  // an HTTP/2 connection (key.http2): parsed by this
    std::optional<HttpProcess> process;      // at its first exchange, when the role is known
    uint64_t last_ns = 0;
  };

  explicit HttpSource(const HttpSourceSettings& settings);
  void OnSegment(const ConnectionKey& key, const Segment& segment);
  void OnClose(const ConnectionKey& key, uint64_t ts_ns);
  Connection* ConnectionOfLocked(const ConnectionKey& key, uint64_t now_ns);
  const HttpProcess& ProcessOfLocked(const ConnectionKey& key, Role role);
  void ScanLocked();
  void Run();
  void AddLocked(Connection& connection, const ConnectionKey& key);       // exchanges_ -> series
  void AddMysqlLocked(Connection& connection, const ConnectionKey& key);  // mysql_exchanges_
  void AddHttp2Locked(Connection& connection, const ConnectionKey& key);  // http2_exchanges_
  void AppendSelfMetrics(std::vector<prometheus::MetricFamily>& out) const;

  std::unique_ptr<Capture> capture_;
  std::mutex mutex_;  // everything below
  HttpSourceSettings settings_;
  ProcessWatch watch_;
  std::unique_ptr<ProcessLabels> labels_;
  std::unique_ptr<HttpAggregator> aggregator_;
  std::unique_ptr<mysql::Aggregator> mysql_aggregator_;  // http_requests.protocols has mysql
  std::unique_ptr<grpc::Aggregator> grpc_aggregator_;    // ... has http2
  http2::Counters http2_counters_;                       // shared by the http2 stitchers
  std::unordered_map<ConnectionKey, std::unique_ptr<Connection>, ConnectionKeyHash> connections_;
  // Connections found the table full and counted skipped: each is counted once (while at most
  // limits.connections of them are remembered; beyond, at each of its segments).
  std::unordered_set<ConnectionKey, ConnectionKeyHash> skipped_;
  // Per process and service port: its labels (pid, comm, metadata), read once.
  std::map<std::pair<uint32_t, uint16_t>, HttpProcess> processes_;
  std::function<void(const ExchangeSummary&)> observer_;
  std::vector<Exchange> exchanges_;  // reused
  std::vector<mysql::Exchange> mysql_exchanges_;
  std::vector<http2::Exchange> http2_exchanges_;
  uint64_t connections_skipped_ = 0, connections_evicted_ = 0, exchanges_total_ = 0;
  uint64_t expired_before_ = 0;  // series expired by aggregators a reload replaced
  std::chrono::steady_clock::time_point last_scan_{};

  mutable std::mutex parsed_mutex_;
  std::set<uint32_t> parsed_;  // watch_.watched() at the last scan, for Parses()
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace netlens::http
