#include "mysql/mysql_aggregator.h"

namespace netlens::mysql {

void Aggregator::Add(const http::HttpProcess& process, const Exchange& exchange,
                     std::string_view server_address, uint16_t server_port, uint64_t now_ns) {
  SeriesKey key;
  key.process = process.labels;
  key.role = exchange.role;
  key.command = exchange.command;
  key.operation = exchange.operation;
  key.error_code = exchange.outcome == Outcome::kError ? exchange.error_code : 0;
  if (exchange.role == Role::kClient) {
    key.server_address = server_address;
    key.server_port = server_port;
  }
  Series& series = SeriesWithinBudget(series_, std::move(key), max_series_, folded_seen_, now_ns);
  series.duration.Add(exchange.end_ns > exchange.start_ns ? exchange.end_ns - exchange.start_ns
                                                          : 0);
  series.affected_rows += exchange.affected_rows;
}

size_t Aggregator::ExpireOrphans(const ProcessLabelSet& live, uint64_t ttl_ns, uint64_t now_ns) {
  const size_t dropped = ExpireOrphanSeries(series_, live, ttl_ns, now_ns);
  expired_ += dropped;
  return dropped;
}

}  // namespace netlens::mysql
