// MySQL exchanges -> series: per process (the tcp side's process labels), role, command,
// operation and error code and, on the client side, the server's address and port. Each series
// holds a duration histogram and the affected rows. Bounded as the HTTP series are: at most
// max_series series, "other" included; beyond, new keys are summed into one "other" series per
// role (netlens_series_folded). Series of processes gone expire (metrics/request_series.h).
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/http_aggregator.h"  // DurationHistogram, HttpProcess
#include "metrics/request_series.h"
#include "mysql/mysql_protocol.h"

namespace netlens::mysql {

struct SeriesKey {
  bool folded = false;  // the "other" series
  std::vector<std::pair<std::string, std::string>> process;
  Role role = Role::kUnknown;
  uint8_t command = 0;
  std::string operation;
  uint16_t error_code = 0;     // 0: no error
  std::string server_address;  // client side only
  uint16_t server_port = 0;    // client side only
  auto operator<=>(const SeriesKey&) const = default;
};

struct Series {
  http::DurationHistogram duration;
  uint64_t affected_rows = 0;
  OrphanState orphan;
};

class Aggregator {
 public:
  explicit Aggregator(size_t max_series) : max_series_(max_series) {}

  // server_address/port: the connection's remote end (used on the client side).
  void Add(const http::HttpProcess& process, const Exchange& exchange,
           std::string_view server_address, uint16_t server_port, uint64_t now_ns);

  const std::map<SeriesKey, Series>& series() const { return series_; }
  size_t folded_keys() const { return folded_seen_.size(); }
  size_t ExpireOrphans(const ProcessLabelSet& live, uint64_t ttl_ns, uint64_t now_ns);
  void MarkShown() { MarkShownOrphans(series_); }
  uint64_t expired() const { return expired_; }
  Counters& counters() { return counters_; }
  const Counters& counters() const { return counters_; }

 private:
  size_t max_series_;
  std::map<SeriesKey, Series> series_;
  std::set<SeriesKey> folded_seen_;
  Counters counters_;
  uint64_t expired_ = 0;
};

}  // namespace netlens::mysql
