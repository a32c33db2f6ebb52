// The seam every metric source plugs into, in the manner of node_exporter's collectors: a
// source (tcp, targets, self; later http, nginx, topology) refreshes from its maps or events
// and appends its own families. The registry (metrics/source_registry.h) walks the sources
// once per scrape, times each, and renders the series-budget families from what they declare.
#pragma once

#include <prometheus/metric_family.h>

#include <cstddef>
#include <string>
#include <vector>

namespace netlens {

// A family held to a series budget (limits.series_per_family): how many keys were summed
// into its "other" series at this scrape. Shown as netlens_series / netlens_series_folded.
struct SeriesBudgetUse {
  std::string family;
  size_t folded_keys = 0;
};

// What one source adds to a scrape.
struct SourceOutput {
  std::vector<prometheus::MetricFamily>& families;
  std::vector<SeriesBudgetUse>& budgets;
};

class MetricSource {
 public:
  virtual ~MetricSource() = default;
  // The `source` label of netlens_source_scrape_duration_seconds: "tcp", "targets", ...
  virtual const char* name() const = 0;
  // Reads what the source needs for a scrape (kernel maps, /proc, events) and appends its
  // families. Scrapes do not overlap: the registry calls sources one at a time.
  virtual void Collect(SourceOutput out) = 0;
};

}  // namespace netlens
