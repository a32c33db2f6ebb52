#include "mysql/mysql_families.h"

#include <string>

#include "metrics/histogram_render.h"
#include "metrics/metric_builder.h"
#include "metrics/metric_names.h"

namespace netlens::mysql {
namespace {

namespace names = metric_name;

std::vector<prometheus::ClientMetric::Label> LabelsOf(const SeriesKey& key) {
  std::vector<prometheus::ClientMetric::Label> labels;
  const auto add = [&](std::string name, std::string value) {
    labels.push_back({std::move(name), key.folded ? "other" : std::move(value)});
  };
  for (const auto& [name, value] : key.process) add(name, value);
  if (key.folded) labels.push_back({"comm", "other"});
  labels.push_back({"db_system_name", "mysql"});
  add("mysql_command", std::string(CommandName(key.command)));
  add("db_operation_name", key.operation);
  add("db_response_status_code", key.error_code ? std::to_string(key.error_code) : "");
  if (key.role == Role::kClient) {
    add("server_address", key.server_address);
    add("server_port", std::to_string(key.server_port));
  }
  return labels;
}

}  // namespace

void AppendMysqlFamilies(const Aggregator& aggregator, const LatencyBuckets& buckets,
                         std::vector<prometheus::MetricFamily>& families,
                         std::vector<SeriesBudgetUse>& budgets) {
  const ShownBuckets shown = ShownBucketsOf(buckets);
  for (const Role role : {Role::kServer, Role::kClient}) {
    const bool server = role == Role::kServer;
    prometheus::MetricFamily duration;
    duration.name = std::string(server ? names::kDbServerOperationDurationSeconds
                                       : names::kDbClientOperationDurationSeconds);
    duration.help =
        "Duration of MySQL commands: the call with the command's first byte to the call with "
        "the response's last byte (daemon/mysql/mysql_stitcher.h)";
    duration.type = prometheus::MetricType::Histogram;
    prometheus::MetricFamily rows;
    rows.name =
        std::string(server ? names::kDbServerAffectedRowsTotal : names::kDbClientAffectedRowsTotal);
    rows.help = "Rows MySQL's OK packets say the commands affected";
    rows.type = prometheus::MetricType::Counter;
    for (const auto& [key, series] : aggregator.series()) {
      if (key.role != role) continue;
      prometheus::ClientMetric metric;
      metric.label = LabelsOf(key);
      metric.histogram = RenderHistogram(series.duration.buckets, series.duration.sum_ns, shown);
      duration.metric.push_back(metric);
      metric.histogram = {};
      metric.counter.value = static_cast<double>(series.affected_rows);
      rows.metric.push_back(std::move(metric));
    }
    if (duration.metric.empty()) continue;
    budgets.push_back({duration.name, aggregator.folded_keys()});
    budgets.push_back({rows.name, aggregator.folded_keys()});
    families.push_back(std::move(duration));
    families.push_back(std::move(rows));
  }
  const Counters& c = aggregator.counters();
  MetricBuilder events(names::kMysqlParserEventsTotal,
                       "What the MySQL parsing met, by event (daemon/mysql/mysql_protocol.h)",
                       prometheus::MetricType::Counter);
  const std::pair<const char*, uint64_t> kEvents[] = {
      {"joined_midstream", c.joined_midstream},
      {"tls", c.tls_connections},
      {"compressed", c.compressed_connections},
      {"framing_lost", c.framing_lost},
      {"unanswered", c.unanswered},
      {"unknown_statement", c.unknown_statements},
      {"statements_over_limit", c.statements_over_limit},
      {"unexpected_packet", c.unexpected_packets},
  };
  for (const auto& [event, value] : kEvents) {
    events.Add({"event"}, {event}, static_cast<double>(value));
  }
  families.push_back(events.Take());
}

}  // namespace netlens::mysql
