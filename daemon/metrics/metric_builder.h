// Builds one prometheus-cpp MetricFamily from label names, values and numbers.
#pragma once

#include <prometheus/metric_family.h>

#include <string>
#include <string_view>
#include <vector>

namespace netlens {

class MetricBuilder {
 public:
  MetricBuilder(std::string_view name, std::string help, prometheus::MetricType type);
  void Add(const std::vector<std::string>& names, const std::vector<std::string>& values,
           double value);
  // Room for `metrics` series, so a large family is allocated once.
  void Reserve(size_t metrics);
  prometheus::MetricFamily Take() { return std::move(family_); }

 private:
  prometheus::MetricFamily family_;
};

}  // namespace netlens
