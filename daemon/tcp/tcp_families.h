// The netlens_tcp_* families rendered from the aggregator's ledgers: traffic, connections,
// state transitions and latency histograms. Pure: no kernel, no /proc, so a fixed snapshot
// renders to a fixed text (test/unit/test_golden_exposition.cpp).
#pragma once

#include <prometheus/metric_family.h>

#include <vector>

#include "metrics/metric_source.h"
#include "tcp/aggregator.h"

namespace netlens {

void AppendTcpFamilies(const Aggregator& aggregator, std::vector<prometheus::MetricFamily>& out);
// The families above that are held to the series budget, with their folded keys.
void DeclareTcpBudgets(const Aggregator& aggregator, std::vector<SeriesBudgetUse>& budgets);

}  // namespace netlens
