// The HTTP capture's own counts as self metrics (docs/metrics.md, "HTTP capture"): what the
// kernel captured, classified and lost; with TLS capture, also the plaintext part and the state
// of the per-process uprobes. Reads http_stats at each scrape.
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
  void CollectTls(const CaptureStats& stats, SourceOutput& out);
  const Capture& capture_;
};

}  // namespace netlens::http
