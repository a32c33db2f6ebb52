// What the request families (HTTP, gRPC, MySQL) share.
//
// AppendRoleFamilies: one family per spec and role (server, then client) over an aggregator's
// series, each series labelled by labels_of(key) and filled by the spec; a family is appended
// only with series, and declared in the budgets.
//
// RequestLabels: the labels of a request series: the process's labels, then the
// series' own, then on the client side the server's address and port. The folded "other"
// series (metrics/request_series.h) has "other" for every value that varies, and comm "other"
// standing for the process labels; constant labels (rpc_system, db_system_name) keep theirs.
// Then the parsers' self counts: one counter family by `event`.
#pragma once

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "metrics/histogram_render.h"
#include "metrics/metric_source.h"

namespace netlens {

template <typename Value>
struct RoleFamilySpec {
  std::string_view server_name, client_name;
  const char* help;
  prometheus::MetricType type;
  void (*fill)(const Value& value, const ShownBuckets& shown, prometheus::ClientMetric& metric);
};

// A spec's fill for a series value with a DurationHistogram `duration`.
template <typename Value>
void FillDuration(const Value& value, const ShownBuckets& shown, prometheus::ClientMetric& metric) {
  metric.histogram = RenderHistogram(value.duration.buckets, value.duration.sum_ns, shown);
}

template <typename SeriesMap, typename Role, typename LabelsOf>
void AppendRoleFamilies(const SeriesMap& series, Role server, Role client,
                        std::span<const RoleFamilySpec<typename SeriesMap::mapped_type>> specs,
                        LabelsOf&& labels_of, const ShownBuckets& shown, size_t folded_keys,
                        std::vector<prometheus::MetricFamily>& families,
                        std::vector<SeriesBudgetUse>& budgets) {
  for (const auto& spec : specs) {
    for (const Role role : {server, client}) {
      prometheus::MetricFamily family;
      family.name = std::string(role == server ? spec.server_name : spec.client_name);
      family.help = spec.help;
      family.type = spec.type;
      for (const auto& [key, value] : series) {
        if (key.role != role) continue;
        prometheus::ClientMetric metric;
        metric.label = labels_of(key);
        spec.fill(value, shown, metric);
        family.metric.push_back(std::move(metric));
      }
      if (family.metric.empty()) continue;
      budgets.push_back({family.name, folded_keys});
      families.push_back(std::move(family));
    }
  }
}

class RequestLabels {
 public:
  RequestLabels(bool folded, const std::vector<std::pair<std::string, std::string>>& process)
      : folded_(folded) {
    for (const auto& [name, value] : process) Add(name, value);
    if (folded) labels_.push_back({"comm", "other"});
  }
  RequestLabels& Add(std::string name, std::string value) {
    labels_.push_back({std::move(name), folded_ ? "other" : std::move(value)});
    return *this;
  }
  RequestLabels& Constant(std::string name, std::string value) {
    labels_.push_back({std::move(name), std::move(value)});
    return *this;
  }
  // The client side's server_address and server_port; nothing on the server side.
  RequestLabels& Server(bool client, const std::string& address, uint16_t port) {
    if (client) Add("server_address", address).Add("server_port", std::to_string(port));
    return *this;
  }
  std::vector<prometheus::ClientMetric::Label> Take() { return std::move(labels_); }

 private:
  bool folded_;
  std::vector<prometheus::ClientMetric::Label> labels_;
};

struct EventCount {
  const char* event;
  uint64_t count;
};
// A counter family with one series per event, labelled event="...".
prometheus::MetricFamily EventCounters(std::string_view name, std::string help,
                                       std::initializer_list<EventCount> events);

}  // namespace netlens
