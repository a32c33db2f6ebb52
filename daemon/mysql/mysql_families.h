// The MySQL request families from a mysql::Aggregator: pure (aggregator in, families out).
// netlens_db_{server,client}_operation_duration_seconds: command to the response's last byte,
// in the latency buckets; _count is the operation count. netlens_db_{server,client}_
// affected_rows_total: the OK packets' affected rows. Labels: the process's, db_system_name
// ("mysql"), mysql_command, db_operation_name, db_response_status_code (the ERR packet's code;
// empty when none), and on the client side server_address, server_port. Then the parser's self
// counts (netlens_mysql_parser_events_total{event}).
#pragma once

#include <prometheus/metric_family.h>

#include <vector>

#include "config/config.h"
#include "metrics/metric_source.h"
#include "mysql/mysql_aggregator.h"

namespace netlens::mysql {

void AppendMysqlFamilies(const Aggregator& aggregator, const LatencyBuckets& buckets,
                         std::vector<prometheus::MetricFamily>& families,
                         std::vector<SeriesBudgetUse>& budgets);

}  // namespace netlens::mysql
