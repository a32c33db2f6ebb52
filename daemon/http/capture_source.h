// The HTTP capture's own counts as self metrics (docs/metrics.md, "HTTP capture"): what the
// kernel captured, classified and lost. Reads http_stats at each scrape.
#pragma once

#include "http/capture.h"
#include "metrics/metric_source.h"

namespace netlens::http {

class CaptureSource : public MetricSource {
 public:
  explicit CaptureSource(const Capture& capture) : capture_(capture) {}
  const char* name() const override { return "http_capture"; }
  void Collect(SourceOutput out) override;

 private:
  const Capture& capture_;
};

}  // namespace netlens::http
