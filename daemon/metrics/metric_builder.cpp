#include "metrics/metric_builder.h"

#include <algorithm>

namespace netlens {

MetricBuilder::MetricBuilder(std::string_view name, std::string help, prometheus::MetricType type) {
  family_.name = std::string(name);
  family_.help = std::move(help);
  family_.type = type;
}

void MetricBuilder::Reserve(size_t metrics) { family_.metric.reserve(metrics); }

void MetricBuilder::Add(const std::vector<std::string>& names,
                        const std::vector<std::string>& values, double value) {
  prometheus::ClientMetric metric;
  metric.label.reserve(std::min(names.size(), values.size()));
  for (size_t i = 0; i < names.size() && i < values.size(); ++i)
    metric.label.push_back({names[i], values[i]});
  if (family_.type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family_.metric.push_back(std::move(metric));
}

}  // namespace netlens
