#include "mysql/mysql_families.h"

#include <string>

#include "metrics/histogram_render.h"
#include "metrics/metric_names.h"
#include "metrics/request_families.h"

namespace netlens::mysql {
namespace {

namespace names = metric_name;

std::vector<prometheus::ClientMetric::Label> LabelsOf(const SeriesKey& key) {
  return RequestLabels(key.folded, key.process)
      .Constant("db_system_name", "mysql")
      .Add("mysql_command", std::string(CommandName(key.command)))
      .Add("db_operation_name", key.operation)
      .Add("db_response_status_code", key.error_code ? std::to_string(key.error_code) : "")
      .Server(key.role == Role::kClient, key.server_address, key.server_port)
      .Take();
}

}  // namespace

void AppendMysqlFamilies(const Aggregator& aggregator, const LatencyBuckets& buckets,
                         std::vector<prometheus::MetricFamily>& families,
                         std::vector<SeriesBudgetUse>& budgets) {
  static const RoleFamilySpec<Series> kFamilies[] = {
      {names::kDbServerOperationDurationSeconds, names::kDbClientOperationDurationSeconds,
       "Duration of MySQL commands: the call with the command's first byte to the call with "
       "the response's last byte (daemon/mysql/mysql_stitcher.h)",
       prometheus::MetricType::Histogram, FillDuration<Series>},
      {names::kDbServerAffectedRowsTotal, names::kDbClientAffectedRowsTotal,
       "Rows MySQL's OK packets say the commands affected", prometheus::MetricType::Counter,
       [](const Series& s, const ShownBuckets&, prometheus::ClientMetric& metric) {
         metric.counter.value = static_cast<double>(s.affected_rows);
       }},
  };
  AppendRoleFamilies(aggregator.series(), Role::kServer, Role::kClient,
                     std::span<const RoleFamilySpec<Series>>(kFamilies), LabelsOf,
                     ShownBucketsOf(buckets), aggregator.folded_keys(), families, budgets);
  const Counters& c = aggregator.counters();
  families.push_back(
      EventCounters(names::kMysqlParserEventsTotal,
                    "What the MySQL parsing met, by event (daemon/mysql/mysql_protocol.h)",
                    {{"joined_midstream", c.joined_midstream},
                     {"tls", c.tls_connections},
                     {"compressed", c.compressed_connections},
                     {"framing_lost", c.framing_lost},
                     {"unanswered", c.unanswered},
                     {"unknown_statement", c.unknown_statements},
                     {"statements_over_limit", c.statements_over_limit},
                     {"unexpected_packet", c.unexpected_packets}}));
}

}  // namespace netlens::mysql
