// One scrape of a /metrics endpoint: the raw body and its samples.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "exposition.h"

namespace netlens::test {

struct Scrape {
  std::string body;
  std::vector<Sample> samples;
  std::string source;  // where it came from, for failure messages (daemon, log file)
};

// GET http://127.0.0.1:PORT/metrics; throws HttpError unless the status is 200 and
// ExpositionError if the body does not parse.
Scrape ScrapeMetrics(uint16_t port, const std::string& source);

}  // namespace netlens::test
