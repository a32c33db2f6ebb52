#include "metrics/request_families.h"

#include "metrics/metric_builder.h"

namespace netlens {

prometheus::MetricFamily EventCounters(std::string_view name, std::string help,
                                       std::initializer_list<EventCount> events) {
  MetricBuilder family(name, std::move(help), prometheus::MetricType::Counter);
  for (const EventCount& e : events) family.Add({"event"}, {e.event}, static_cast<double>(e.count));
  return family.Take();
}

}  // namespace netlens
