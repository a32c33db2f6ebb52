// The one prometheus-cpp Collectable: walks the registered metric sources in order, times
// each (netlens_source_scrape_duration_seconds{source}), and adds the families that describe
// the scrape itself: series per budgeted family (netlens_series, netlens_series_folded) and
// the whole scrape's duration. Adding a source is one Add() call where main wires netlens.
#pragma once

#include <prometheus/collectable.h>

#include <mutex>
#include <vector>

#include "metrics/metric_source.h"

namespace netlens {

class SourceRegistry : public prometheus::Collectable {
 public:
  // The source must outlive the registry's last scrape.
  void Add(MetricSource* source);
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  mutable std::mutex mutex_;  // one scrape at a time: per-source timings stay meaningful
  std::vector<MetricSource*> sources_;
};

}  // namespace netlens
