#include "metrics/source_registry.h"

#include <chrono>

#include "metrics/metric_builder.h"
#include "metrics/metric_names.h"

namespace netlens {

void SourceRegistry::Add(MetricSource* source) {
  std::lock_guard lock(mutex_);
  sources_.push_back(source);
}

std::vector<prometheus::MetricFamily> SourceRegistry::Collect() const {
  using Clock = std::chrono::steady_clock;
  using prometheus::MetricType;
  std::lock_guard lock(mutex_);
  const auto start = Clock::now();
  std::vector<prometheus::MetricFamily> families;
  std::vector<SeriesBudgetUse> budgets;
  MetricBuilder durations(metric_name::kSourceScrapeDurationSeconds,
                          "Time each metric source took to read its data and build its "
                          "families at this scrape.",
                          MetricType::Gauge);
  for (MetricSource* source : sources_) {
    const auto source_start = Clock::now();
    source->Collect({families, budgets});
    const std::chrono::duration<double> took = Clock::now() - source_start;
    durations.Add({"source"}, {source->name()}, took.count());
  }

  MetricBuilder series(metric_name::kSeries, "Series in a metric family at this scrape.",
                       MetricType::Gauge);
  MetricBuilder folded(metric_name::kSeriesFolded,
                       "Keys summed into the family's \"other\" series (over its series budget).",
                       MetricType::Gauge);
  for (const SeriesBudgetUse& use : budgets) {
    size_t count = 0;
    for (const auto& family : families) {
      if (family.name == use.family) count = family.metric.size();
    }
    series.Add({"family"}, {use.family}, static_cast<double>(count));
    folded.Add({"family"}, {use.family}, static_cast<double>(use.folded_keys));
  }
  families.push_back(series.Take());
  families.push_back(folded.Take());
  families.push_back(durations.Take());

  MetricBuilder duration(metric_name::kScrapeDurationSeconds,
                         "Time to read the kernel maps and build this scrape's series.",
                         MetricType::Gauge);
  const std::chrono::duration<double> took = Clock::now() - start;
  duration.Add({}, {}, took.count());
  families.push_back(duration.Take());
  return families;
}

}  // namespace netlens
